/* C binding for the echo protocol.
 *
 * Link with libecho_ffi.so, or with libecho_ffi.a plus the system libraries
 * that `rustc --print native-static-libs` lists (on Linux: -lgcc_s -lutil
 * -lrt -lpthread -lm -ldl -lc).
 */
#ifndef ECHO_FFI_H
#define ECHO_FFI_H

#ifdef __cplusplus
extern "C" {
#endif

/* Returns the server's reply to one protocol line (given without its line
 * ending): "PONG" for "PING", the line itself otherwise. The reply is a new
 * string owned by the caller, to be released with echo_ffi_free(). Returns
 * NULL when line is NULL. Invalid UTF-8 is replaced by U+FFFD. */
char *echo_ffi_handle_line(const char *line);

/* Releases a string returned by echo_ffi_handle_line(). NULL is ignored. */
void echo_ffi_free(char *reply);

/* The library version, as a static string that must not be freed. */
const char *echo_ffi_version(void);

#ifdef __cplusplus
}
#endif

#endif /* ECHO_FFI_H */
