/* portfile.h - the --port-file a server writes once it listens: the ports
 * it bound, one a line, so that scripts and tests that started it with
 * port 0 learn where it is.
 *
 * The file appears whole or not at all: it is written to PATH.tmp and
 * renamed over PATH, so a reader that sees the file never sees half of it. */
#ifndef RV_PORTFILE_H
#define RV_PORTFILE_H

#include <stddef.h>

/* rv_port_file_write - write the N ports in PORTS, one a line, to PATH
 * atomically (mode 0644 before the umask). 0 on success, else a negative
 * errno (-ENAMETOOLONG when PATH leaves no room for the temporary name);
 * on failure the temporary file is removed and no descriptor stays open. */
int rv_port_file_write(const char *path, const int *ports, size_t n);

#endif
