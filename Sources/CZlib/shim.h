// zlib for gzip request bodies (client compresses, hub inflates).
#ifndef EMREG_CZLIB_SHIM_H
#define EMREG_CZLIB_SHIM_H

#include <zlib.h>

// deflateInit2/inflateInit2 are macros; Swift needs functions.
static inline int emreg_deflate_init_gzip(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

// Raw deflate (no header or trailer): pieces of one gzip member made apart (Gzip.Pieces).
static inline int emreg_deflate_init_raw(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
}

static inline int emreg_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 16);
}

#endif
