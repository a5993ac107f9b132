// TLS for the SSL_GET health checker, through the system's OpenSSL (libssl-dev).
#include "CTLS.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

static void set_err(char *err, size_t len, const char *what) {
    unsigned long e = ERR_get_error();
    if (e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        snprintf(err, len, "%s: %s", what, buf);
    } else if (errno != 0) {
        snprintf(err, len, "%s: %s", what, strerror(errno));
    } else {
        snprintf(err, len, "%s", what);
    }
    ERR_clear_error();
}

/// True once `buf` holds headers and a body of the announced Content-Length.
static int complete(const unsigned char *buf, size_t n) {
    for (size_t i = 0; i + 3 < n; i++) {
        if (memcmp(buf + i, "\r\n\r\n", 4) != 0) continue;
        size_t head = i + 4;
        for (size_t j = 0; j + 15 < head; j++) {
            if ((j == 0 || buf[j - 1] == '\n') && strncasecmp((const char *)buf + j, "content-length:", 15) == 0) {
                long len = 0;
                size_t k = j + 15;
                while (k < head && buf[k] == ' ') k++;
                while (k < head && buf[k] >= '0' && buf[k] <= '9') len = len * 10 + (buf[k++] - '0');
                return n - head >= (size_t)len;
            }
        }
        return 0;
    }
    return 0;
}

long lvs_tls_exchange(int fd, const char *sni, const unsigned char *request, size_t request_len,
                      unsigned char *out, size_t out_cap, int timeout_ms, char *err, size_t err_len) {
    long result = -1;
    errno = 0;
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1000;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        set_err(err, err_len, "TLS context");
        return -1;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL *ssl = SSL_new(ctx);
    if (!ssl) {
        set_err(err, err_len, "TLS session");
        SSL_CTX_free(ctx);
        return -1;
    }
    SSL_set_fd(ssl, fd);
    if (sni && *sni) SSL_set_tlsext_host_name(ssl, sni);
    if (SSL_connect(ssl) != 1) {
        set_err(err, err_len, "TLS handshake");
        goto done;
    }
    size_t off = 0;
    while (off < request_len) {
        int w = SSL_write(ssl, request + off, (int)(request_len - off));
        if (w <= 0) {
            set_err(err, err_len, "TLS write");
            goto done;
        }
        off += (size_t)w;
    }
    size_t n = 0;
    while (n < out_cap && !complete(out, n)) {
        int r = SSL_read(ssl, out + n, (int)(out_cap - n));
        if (r > 0) {
            n += (size_t)r;
            continue;
        }
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN) break;                 // close_notify
        if (e == SSL_ERROR_SYSCALL && errno == 0) break;       // EOF without close_notify
        set_err(err, err_len, (errno == EAGAIN || errno == EWOULDBLOCK) ? "TLS read: timed out" : "TLS read");
        goto done;
    }
    result = (long)n;
done:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return result;
}
