#include "emreg_curl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

// libcurl's functions, resolved once by `load`.
static struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *handle);
    CURLcode (*easy_perform)(CURL *handle);
    const char *(*easy_strerror)(CURLcode code);
    CURLcode (*easy_setopt)(CURL *handle, CURLoption option, ...);
    CURLcode (*easy_getinfo)(CURL *handle, CURLINFO info, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *line);
    void (*slist_free_all)(struct curl_slist *list);
} curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *failure;
static char failure_text[512];

#define RESOLVE(field, name)                                                                        \
    do {                                                                                            \
        *(void **)&curl.field = dlsym(library, name);                                               \
        if (curl.field == NULL) {                                                                   \
            snprintf(failure_text, sizeof failure_text, "libcurl.so.4 lacks %s", name);             \
            failure = failure_text;                                                                 \
            return;                                                                                 \
        }                                                                                           \
    } while (0)

static void load(void) {
    // RTLD_LOCAL: libcurl's symbols (and its TLS library's) stay out of the global scope.
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(failure_text, sizeof failure_text,
                 "libcurl could not be loaded (install libcurl4-openssl-dev or libcurl4): %s", dlerror());
        failure = failure_text;
        return;
    }
    RESOLVE(global_init, "curl_global_init");
    RESOLVE(easy_init, "curl_easy_init");
    RESOLVE(easy_cleanup, "curl_easy_cleanup");
    RESOLVE(easy_perform, "curl_easy_perform");
    RESOLVE(easy_strerror, "curl_easy_strerror");
    RESOLVE(easy_setopt, "curl_easy_setopt");
    RESOLVE(easy_getinfo, "curl_easy_getinfo");
    RESOLVE(slist_append, "curl_slist_append");
    RESOLVE(slist_free_all, "curl_slist_free_all");
    CURLcode code = curl.global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK) {
        snprintf(failure_text, sizeof failure_text, "curl_global_init failed (curl %d)", (int)code);
        failure = failure_text;
    }
}

const char *emreg_curl_load(void) {
    pthread_once(&once, load);
    return failure;
}

CURL *emreg_curl_easy_init(void) { return curl.easy_init(); }
void emreg_curl_easy_cleanup(CURL *handle) { curl.easy_cleanup(handle); }
CURLcode emreg_curl_easy_perform(CURL *handle) { return curl.easy_perform(handle); }
const char *emreg_curl_easy_strerror(CURLcode code) { return curl.easy_strerror(code); }
struct curl_slist *emreg_curl_slist_append(struct curl_slist *list, const char *line) {
    return curl.slist_append(list, line);
}
void emreg_curl_slist_free_all(struct curl_slist *list) { curl.slist_free_all(list); }

CURLcode emreg_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl.easy_setopt(handle, option, value);
}
CURLcode emreg_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl.easy_setopt(handle, option, value);
}
CURLcode emreg_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl.easy_setopt(handle, option, value);
}
CURLcode emreg_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl.easy_setopt(handle, option, value);
}
CURLcode emreg_curl_setopt_callback(CURL *handle, CURLoption option, emreg_curl_data_callback callback) {
    return curl.easy_setopt(handle, option, callback);
}
CURLcode emreg_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl.easy_getinfo(handle, info, value);
}
CURLcode emreg_curl_getinfo_offset(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl.easy_getinfo(handle, info, value);
}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
CURLcode emreg_curl_allow_no_redirect_protocols(CURL *handle) {
    return curl.easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS, 0L);
}
#pragma GCC diagnostic pop
