// Typed wrappers for libcurl's variadic functions, which Swift cannot call directly.
#ifndef EMREG_CCURL_SHIM_H
#define EMREG_CCURL_SHIM_H

#include <curl/curl.h>

static inline CURLcode emreg_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode emreg_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode emreg_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode emreg_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*emreg_curl_data_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode emreg_curl_setopt_callback(CURL *handle, CURLoption option, emreg_curl_data_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

static inline CURLcode emreg_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode emreg_curl_getinfo_offset(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

// Allow no protocol at all after a redirect. CURLOPT_REDIR_PROTOCOLS_STR refuses an empty
// list, so this uses the (deprecated since 7.85, still honoured) bitmask option with 0.
// The transport also never follows redirects (CURLOPT_FOLLOWLOCATION 0); this is the
// second lock on the same door.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
#endif
static inline CURLcode emreg_curl_allow_no_redirect_protocols(CURL *handle) {
    return curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS, 0L);
}
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

#endif
