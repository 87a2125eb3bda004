/* A C program that works but leaks on purpose: it never releases the
 * replies it gets, so valgrind --leak-check=full reports them as
 * "definitely lost". Under plain execution it exits 0. */
#include <stdio.h>
#include <string.h>

#include "echo_ffi.h"

/* Gets a reply and drops the only pointer to it. */
static int leak_one(const char *line) {
    char *reply = echo_ffi_handle_line(line);
    if (reply == NULL || strcmp(reply, line) != 0) {
        return 0;
    }
    return 1; /* missing echo_ffi_free(reply) */
}

int main(void) {
    int ok = 0;
    for (int i = 0; i < 3; i++) {
        char line[32];
        snprintf(line, sizeof line, "leak %d", i);
        ok += leak_one(line);
    }
    if (ok != 3) {
        fprintf(stderr, "leaky: unexpected replies\n");
        return 1;
    }
    printf("leaky: got 3 replies and leaked them\n");
    return 0;
}
