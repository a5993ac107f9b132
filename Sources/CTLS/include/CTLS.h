#ifndef CTLS_H
#define CTLS_H
#include <stddef.h>

/// One TLS request/response exchange over an already connected TCP socket (SSL_GET).
/// The socket is switched to blocking mode with send/receive timeouts derived from
/// `timeout_ms`; the peer's certificate is not verified (keepalived's SSL_GET default without an
/// SSL { ca } block). `sni` may be NULL. Reads until the peer closes, `out_cap` bytes, or a
/// complete Content-Length body. Returns the number of bytes read, or -1 with a message in `err`.
long lvs_tls_exchange(int fd, const char *sni, const unsigned char *request, size_t request_len,
                      unsigned char *out, size_t out_cap, int timeout_ms, char *err, size_t err_len);

#endif
