/* cospace: build configuration shared by the C and C++ headers. */
#ifndef COSPACE_CONFIG_H
#define COSPACE_CONFIG_H

/* The one export macro: the library is built with -fvisibility=hidden and
 * exports exactly the declarations marked COSPACE_API. */
#if defined(COSPACE_STATIC)
#define COSPACE_API
#else
#define COSPACE_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
#define COSPACE_NOEXCEPT noexcept
#define COSPACE_EXTERN_C_BEGIN extern "C" {
#define COSPACE_EXTERN_C_END }
#else
#define COSPACE_NOEXCEPT
#define COSPACE_EXTERN_C_BEGIN
#define COSPACE_EXTERN_C_END
#endif

#endif /* COSPACE_CONFIG_H */
