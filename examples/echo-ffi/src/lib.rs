//! C binding for the echo protocol.
//!
//! Built as a `cdylib` (`libecho_ffi.so`), a `staticlib` (`libecho_ffi.a`)
//! and an `rlib`. The C declarations are in `include/echo_ffi.h`.
//!
//! Strings returned by [`echo_ffi_handle_line`] are owned by the caller and
//! must be released with [`echo_ffi_free`] (not `free(3)`).

use std::ffi::{CStr, CString, c_char};
use std::ptr;

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("the package version contains a NUL byte"),
    };

/// Returns the server's reply to one protocol line (given without its line
/// ending) as a new NUL-terminated string, or NULL when `line` is NULL.
/// Invalid UTF-8 in `line` is replaced by U+FFFD.
///
/// # Safety
///
/// `line` must be NULL or point to a NUL-terminated string that stays valid
/// for the duration of the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn echo_ffi_handle_line(line: *const c_char) -> *mut c_char {
    if line.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: the caller guarantees `line` is a valid NUL-terminated string.
    let line = unsafe { CStr::from_ptr(line) };
    let reply = echo_server::handle_line(&line.to_string_lossy());
    // The reply comes from a C string, so it has no interior NUL; NULL
    // reports the impossible case rather than aborting.
    CString::new(reply).map_or(ptr::null_mut(), CString::into_raw)
}

/// Releases a string returned by [`echo_ffi_handle_line`]. NULL is ignored.
///
/// # Safety
///
/// `reply` must be NULL or a pointer returned by [`echo_ffi_handle_line`]
/// that has not been released yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn echo_ffi_free(reply: *mut c_char) {
    if !reply.is_null() {
        // SAFETY: the caller guarantees `reply` came from CString::into_raw
        // in echo_ffi_handle_line and is released only once.
        drop(unsafe { CString::from_raw(reply) });
    }
}

/// The library version as a static NUL-terminated string (never freed).
#[unsafe(no_mangle)]
pub extern "C" fn echo_ffi_version() -> *const c_char {
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_line_gives_null_reply() {
        // SAFETY: NULL is an allowed argument.
        assert!(unsafe { echo_ffi_handle_line(ptr::null()) }.is_null());
    }

    #[test]
    fn free_ignores_null() {
        // SAFETY: NULL is an allowed argument.
        unsafe { echo_ffi_free(ptr::null_mut()) };
    }

    #[test]
    fn version_is_the_package_version() {
        // SAFETY: echo_ffi_version returns a static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(echo_ffi_version()) };
        assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn header_declares_every_function() {
        let header = include_str!("../include/echo_ffi.h");
        for declaration in [
            "char *echo_ffi_handle_line(const char *line);",
            "void echo_ffi_free(char *reply);",
            "const char *echo_ffi_version(void);",
        ] {
            assert!(header.contains(declaration), "missing {declaration:?}");
        }
    }
}
