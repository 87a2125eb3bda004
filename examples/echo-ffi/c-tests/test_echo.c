/* Checks the C binding from C. Frees everything it allocates, so it runs
 * clean under valgrind --leak-check=full. Exits non-zero on any failure. */
#include <stdio.h>
#include <string.h>

#include "echo_ffi.h"

static int checks = 0;
static int failures = 0;

static void expect_reply(const char *line, const char *expected) {
    char *reply = echo_ffi_handle_line(line);
    checks++;
    if (reply == NULL) {
        fprintf(stderr, "FAIL: reply to \"%s\" is NULL\n", line);
        failures++;
        return;
    }
    if (strcmp(reply, expected) != 0) {
        fprintf(stderr, "FAIL: reply to \"%s\" is \"%s\", expected \"%s\"\n", line, reply,
                expected);
        failures++;
    }
    echo_ffi_free(reply);
}

int main(void) {
    expect_reply("hello", "hello");
    expect_reply("PING", "PONG");
    expect_reply("ping", "ping");
    expect_reply("", "");
    expect_reply("gr\xc3\xbc\xc3\x9f" "e", "gr\xc3\xbc\xc3\x9f" "e");
    /* Invalid UTF-8 becomes U+FFFD (EF BF BD). */
    expect_reply("bad \xff byte", "bad \xef\xbf\xbd byte");

    checks++;
    if (echo_ffi_handle_line(NULL) != NULL) {
        fprintf(stderr, "FAIL: reply to NULL is not NULL\n");
        failures++;
    }
    echo_ffi_free(NULL);

    checks++;
    const char *version = echo_ffi_version();
    if (version == NULL || strlen(version) == 0) {
        fprintf(stderr, "FAIL: empty version\n");
        failures++;
    }

    /* Many allocations, all released. */
    for (int i = 0; i < 1000; i++) {
        char line[32];
        snprintf(line, sizeof line, "line %d", i);
        char *reply = echo_ffi_handle_line(line);
        checks++;
        if (reply == NULL || strcmp(reply, line) != 0) {
            failures++;
        }
        echo_ffi_free(reply);
    }

    if (failures != 0) {
        fprintf(stderr, "test_echo: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("test_echo: all %d checks passed (echo_ffi %s)\n", checks, version);
    return 0;
}
