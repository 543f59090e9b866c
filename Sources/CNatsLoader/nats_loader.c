// The NATS C client, loaded when a NATS sink or source first connects instead of when the process starts.
//
// Linking libnats made every node (agents without NATS included) map it and what it links: OpenSSL's libssl and
// libcrypto and libprotobuf-c, about 1.7 MB resident at start (Docs/PERFORMANCE.md, "The floor under the agent's
// CPU"), and made the binary refuse to start on a host without those libraries. Each function LogFerryNATS calls is
// defined here with libnats's own prototype (from <nats/nats.h>, so the compiler checks every one) and forwards to
// the library's symbol, resolved once. LogFerryNATS calls logferry_nats_load() before anything else and turns its
// failure into an operator error. A function used without it having succeeded stops the process with the reason,
// as an unresolved symbol would have at start.
//
// A new libnats function used in LogFerryNATS needs its line below; the link fails until it has one.

#include "CNatsLoader.h"

#include <dlfcn.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGFERRY_STRINGIFY2(x) #x
#define LOGFERRY_STRINGIFY(x) LOGFERRY_STRINGIFY2(x)
/// The soname of the libnats these headers describe (Debian's libnats<major>.<minor> package).
#define LOGFERRY_NATS_SONAME "libnats.so." LOGFERRY_STRINGIFY(NATS_VERSION_MAJOR) "." LOGFERRY_STRINGIFY(NATS_VERSION_MINOR)

static pthread_once_t loadOnce = PTHREAD_ONCE_INIT;
static void *library = NULL;
static char loadError[512] = "";

/// LOGFERRY_NATS_LIBRARY names another file to load (a libnats built elsewhere, with the same major and minor).
static const char *libraryPath(void) {
    const char *path = getenv("LOGFERRY_NATS_LIBRARY");
    return path != NULL && path[0] != '\0' ? path : LOGFERRY_NATS_SONAME;
}

static void loadLibrary(void) {
    library = dlopen(libraryPath(), RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *reason = dlerror();
        snprintf(loadError, sizeof loadError, "%s", reason != NULL ? reason : "dlopen failed");
    }
}

const char *logferry_nats_soname(void) {
    return LOGFERRY_NATS_SONAME;
}

int logferry_nats_load(char *error, size_t capacity) {
    pthread_once(&loadOnce, loadLibrary);
    if (library != NULL) return 0;
    if (error != NULL && capacity > 0) snprintf(error, capacity, "%s", loadError);
    return -1;
}

/// The address of `name` in libnats; stops the process with the reason when the library or the symbol is missing.
static void *resolve(const char *name) {
    char error[512];
    if (logferry_nats_load(error, sizeof error) != 0) {
        fprintf(stderr, "logferry: NATS function %s used but %s cannot be loaded: %s\n", name, libraryPath(), error);
        abort();
    }
    void *symbol = dlsym(library, name);
    if (symbol == NULL) {
        fprintf(stderr, "logferry: %s has no function %s; install the libnats LogFerry was built with (%s)\n",
                LOGFERRY_NATS_SONAME, name, NATS_VERSION_STRING);
        abort();
    }
    return symbol;
}

// One definition per function: the pointer is resolved at the first call and kept (a race only stores the same
// value twice).
#define LOGFERRY_NATS_FORWARD(ret, name, params, args) \
    ret name params { \
        static ret (*target) params = NULL; \
        ret (*resolved) params = __atomic_load_n(&target, __ATOMIC_ACQUIRE); \
        if (resolved == NULL) { \
            resolved = (ret (*) params)resolve(#name); \
            __atomic_store_n(&target, resolved, __ATOMIC_RELEASE); \
        } \
        return resolved args; \
    }
#define LOGFERRY_NATS_FORWARD_VOID(name, params, args) \
    void name params { \
        static void (*target) params = NULL; \
        void (*resolved) params = __atomic_load_n(&target, __ATOMIC_ACQUIRE); \
        if (resolved == NULL) { \
            resolved = (void (*) params)resolve(#name); \
            __atomic_store_n(&target, resolved, __ATOMIC_RELEASE); \
        } \
        resolved args; \
    }

LOGFERRY_NATS_FORWARD_VOID(jsCtx_Destroy, (jsCtx *js), (js))
LOGFERRY_NATS_FORWARD_VOID(jsMsgMetaData_Destroy, (jsMsgMetaData *meta), (meta))
LOGFERRY_NATS_FORWARD(natsStatus, jsOptions_Init, (jsOptions *opts), (opts))
LOGFERRY_NATS_FORWARD(natsStatus, jsPubOptions_Init, (jsPubOptions *opts), (opts))
LOGFERRY_NATS_FORWARD(natsStatus, jsStreamConfig_Init, (jsStreamConfig *cfg), (cfg))
LOGFERRY_NATS_FORWARD_VOID(jsStreamInfo_Destroy, (jsStreamInfo *si), (si))
LOGFERRY_NATS_FORWARD(natsStatus, jsSubOptions_Init, (jsSubOptions *opts), (opts))
LOGFERRY_NATS_FORWARD(natsStatus, js_AddStream, (jsStreamInfo **si, jsCtx *js, jsStreamConfig *cfg, jsOptions *opts, jsErrCode *errCode), (si, js, cfg, opts, errCode))
LOGFERRY_NATS_FORWARD(natsStatus, js_DeleteStream, (jsCtx *js, const char *stream, jsOptions *opts, jsErrCode *errCode), (js, stream, opts, errCode))
LOGFERRY_NATS_FORWARD(natsStatus, js_GetStreamInfo, (jsStreamInfo **si, jsCtx *js, const char *stream, jsOptions *opts, jsErrCode *errCode), (si, js, stream, opts, errCode))
LOGFERRY_NATS_FORWARD(natsStatus, js_PublishAsyncComplete, (jsCtx *js, jsPubOptions *opts), (js, opts))
LOGFERRY_NATS_FORWARD(natsStatus, js_PublishAsyncGetPendingList, (natsMsgList *pending, jsCtx *js), (pending, js))
LOGFERRY_NATS_FORWARD(natsStatus, js_PublishMsgAsync, (jsCtx *js, natsMsg **msg, jsPubOptions *opts), (js, msg, opts))
LOGFERRY_NATS_FORWARD(natsStatus, js_PullSubscribe, (natsSubscription **sub, jsCtx *js, const char *subject, const char *durable, jsOptions *opts, jsSubOptions *subOpts, jsErrCode *errCode), (sub, js, subject, durable, opts, subOpts, errCode))
LOGFERRY_NATS_FORWARD_VOID(natsConnection_Close, (natsConnection *nc), (nc))
LOGFERRY_NATS_FORWARD(natsStatus, natsConnection_Connect, (natsConnection **nc, natsOptions *options), (nc, options))
LOGFERRY_NATS_FORWARD_VOID(natsConnection_Destroy, (natsConnection *nc), (nc))
LOGFERRY_NATS_FORWARD(natsStatus, natsConnection_FlushTimeout, (natsConnection *nc, int64_t timeout), (nc, timeout))
LOGFERRY_NATS_FORWARD(natsStatus, natsConnection_GetConnectedUrl, (natsConnection *nc, char *buffer, size_t bufferSize), (nc, buffer, bufferSize))
LOGFERRY_NATS_FORWARD(natsStatus, natsConnection_GetLastError, (natsConnection *nc, const char **lastError), (nc, lastError))
LOGFERRY_NATS_FORWARD(int64_t, natsConnection_GetMaxPayload, (natsConnection *nc), (nc))
LOGFERRY_NATS_FORWARD(natsStatus, natsConnection_JetStream, (jsCtx **js, natsConnection *nc, jsOptions *opts), (js, nc, opts))
LOGFERRY_NATS_FORWARD(natsConnStatus, natsConnection_Status, (natsConnection *nc), (nc))
LOGFERRY_NATS_FORWARD(natsStatus, natsMsgHeader_Get, (natsMsg *msg, const char *key, const char **value), (msg, key, value))
LOGFERRY_NATS_FORWARD(natsStatus, natsMsgHeader_Keys, (natsMsg *msg, const char* **keys, int *count), (msg, keys, count))
LOGFERRY_NATS_FORWARD(natsStatus, natsMsgHeader_Set, (natsMsg *msg, const char *key, const char *value), (msg, key, value))
LOGFERRY_NATS_FORWARD_VOID(natsMsgList_Destroy, (natsMsgList *list), (list))
LOGFERRY_NATS_FORWARD(natsStatus, natsMsg_Ack, (natsMsg *msg, jsOptions *opts), (msg, opts))
LOGFERRY_NATS_FORWARD(natsStatus, natsMsg_Create, (natsMsg **newMsg, const char *subj, const char *reply, const char *data, int dataLen), (newMsg, subj, reply, data, dataLen))
LOGFERRY_NATS_FORWARD_VOID(natsMsg_Destroy, (natsMsg *msg), (msg))
LOGFERRY_NATS_FORWARD(const char*, natsMsg_GetData, (const natsMsg *msg), (msg))
LOGFERRY_NATS_FORWARD(int, natsMsg_GetDataLength, (const natsMsg *msg), (msg))
LOGFERRY_NATS_FORWARD(natsStatus, natsMsg_GetMetaData, (jsMsgMetaData **new_meta, natsMsg *msg), (new_meta, msg))
LOGFERRY_NATS_FORWARD(const char*, natsMsg_GetSubject, (const natsMsg *msg), (msg))
LOGFERRY_NATS_FORWARD(natsStatus, natsMsg_Term, (natsMsg *msg, jsOptions *opts), (msg, opts))
LOGFERRY_NATS_FORWARD(natsStatus, natsOptions_Create, (natsOptions **newOpts), (newOpts))
LOGFERRY_NATS_FORWARD_VOID(natsOptions_Destroy, (natsOptions *opts), (opts))
LOGFERRY_NATS_FORWARD(natsStatus, natsOptions_SetAllowReconnect, (natsOptions *opts, bool allow), (opts, allow))
LOGFERRY_NATS_FORWARD(natsStatus, natsOptions_SetClosedCB, (natsOptions *opts, natsConnectionHandler closedCb, void *closure), (opts, closedCb, closure))
LOGFERRY_NATS_FORWARD(natsStatus, natsOptions_SetCustomReconnectDelay, (natsOptions *opts, natsCustomReconnectDelayHandler cb, void *closure), (opts, cb, closure))
LOGFERRY_NATS_FORWARD(natsStatus, natsOptions_SetDisconnectedCB, (natsOptions *opts, natsConnectionHandler disconnectedCb, void *closure), (opts, disconnectedCb, closure))
LOGFERRY_NATS_FORWARD(natsStatus, natsOptions_SetErrorHandler, (natsOptions *opts, natsErrHandler errHandler, void *closure), (opts, errHandler, closure))
LOGFERRY_NATS_FORWARD(natsStatus, natsOptions_SetMaxPingsOut, (natsOptions *opts, int maxPingsOut), (opts, maxPingsOut))
LOGFERRY_NATS_FORWARD(natsStatus, natsOptions_SetMaxReconnect, (natsOptions *opts, int maxReconnect), (opts, maxReconnect))
LOGFERRY_NATS_FORWARD(natsStatus, natsOptions_SetName, (natsOptions *opts, const char *name), (opts, name))
LOGFERRY_NATS_FORWARD(natsStatus, natsOptions_SetNoRandomize, (natsOptions *opts, bool noRandomize), (opts, noRandomize))
LOGFERRY_NATS_FORWARD(natsStatus, natsOptions_SetPingInterval, (natsOptions *opts, int64_t interval), (opts, interval))
LOGFERRY_NATS_FORWARD(natsStatus, natsOptions_SetReconnectedCB, (natsOptions *opts, natsConnectionHandler reconnectedCb, void *closure), (opts, reconnectedCb, closure))
LOGFERRY_NATS_FORWARD(natsStatus, natsOptions_SetServers, (natsOptions *opts, const char** servers, int serversCount), (opts, servers, serversCount))
LOGFERRY_NATS_FORWARD(natsStatus, natsOptions_SetTimeout, (natsOptions *opts, int64_t timeout), (opts, timeout))
LOGFERRY_NATS_FORWARD(const char*, natsStatus_GetText, (natsStatus s), (s))
LOGFERRY_NATS_FORWARD_VOID(natsSubscription_Destroy, (natsSubscription *sub), (sub))
LOGFERRY_NATS_FORWARD(natsStatus, natsSubscription_Fetch, (natsMsgList *list, natsSubscription *sub, int batch, int64_t timeout, jsErrCode *errCode), (list, sub, batch, timeout, errCode))
LOGFERRY_NATS_FORWARD(const char*, nats_GetLastError, (natsStatus *status), (status))
