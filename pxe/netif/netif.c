// Per-interface UDP sockets. Node's dgram has neither IP_PKTINFO nor SO_BINDTODEVICE, so a socket on
// 0.0.0.0 cannot tell which zone a 255.255.255.255 broadcast came from, and one bound to a unicast
// address never sees such broadcasts. A socket bound to a device on 0.0.0.0:<port> receives only
// that device's traffic and sends (broadcasts too) out of it. We create it here and hand the fd to
// dgram (`socket.bind({ fd })`), which owns and closes it from then on.
#define _GNU_SOURCE
#define NAPI_VERSION 8 // Node-API is ABI-stable: the addon keeps loading on newer Node releases.
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// The errno's symbolic name ('ENODEV'), which callers and tests match on instead of message text.
static const char *errname(int e) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
  const char *n = strerrorname_np(e);
  if (n) return n;
#endif
  switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case EADDRINUSE: return "EADDRINUSE";
    default: return "EUNKNOWN";
  }
}

// Closes the half-made socket (nothing else would: JS never saw the fd) and throws
// "<step> on <ifname>: <strerror>" with code, errno (negative, as Node's own errors) and syscall.
static napi_value fail(napi_env env, int fd, int e, const char *step, const char *syscall, const char *ifname) {
  char text[160];
  napi_value msg, code, err, num, sys;
  if (fd >= 0) close(fd);
  snprintf(text, sizeof text, "%s on %s: %s", step, ifname, strerror(e));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, errname(e), NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &err);
  napi_create_int32(env, -e, &num);
  napi_set_named_property(env, err, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, err, "syscall", sys);
  napi_throw(env, err);
  return NULL;
}

static napi_value bad_arg(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
  return NULL;
}

// openUdpSocket(ifname: string, port: number, addr?: string) -> fd
static napi_value open_udp_socket(napi_env env, napi_callback_info info) {
  size_t argc = 3, len = 0;
  napi_value argv[3], result;
  napi_valuetype t = napi_undefined;
  char ifname[IFNAMSIZ + 1] = "", addr[INET_ADDRSTRLEN + 1] = "0.0.0.0", step[64];
  uint32_t port = 0;
  struct sockaddr_in sa = { .sin_family = AF_INET };
  int one = 1, fd;

  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  // The buffer holds one byte more than a valid name, so an over-long name shows up as len >= IFNAMSIZ
  // instead of being silently truncated to some other interface's name.
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &len) != napi_ok || len == 0 || len >= IFNAMSIZ)
    return bad_arg(env, "openUdpSocket: ifname must be a string of 1-15 bytes");
  if (napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535)
    return bad_arg(env, "openUdpSocket: port must be 0-65535");
  if (argc > 2) napi_typeof(env, argv[2], &t);
  if (t != napi_undefined && (napi_get_value_string_utf8(env, argv[2], addr, sizeof addr, &len) != napi_ok || inet_pton(AF_INET, addr, &sa.sin_addr) != 1))
    return bad_arg(env, "openUdpSocket: addr must be a dotted IPv4 address");
  sa.sin_port = htons((uint16_t)port); // sin_addr stays INADDR_ANY (0.0.0.0) unless addr was given

  fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(env, -1, errno, "socket", "socket", ifname);
  // libuv turns SO_REUSEADDR on anyway when dgram adopts the fd (measured): set it before bind so the
  // socket shares its port on the same terms from the start.
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) return fail(env, fd, errno, "SO_REUSEADDR", "setsockopt", ifname);
  if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0) return fail(env, fd, errno, "SO_BROADCAST", "setsockopt", ifname);
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) < 0)
    return fail(env, fd, errno, "SO_BINDTODEVICE", "setsockopt", ifname);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    snprintf(step, sizeof step, "bind %s:%u", addr, port);
    return fail(env, fd, e, step, "bind", ifname);
  }
  napi_create_int32(env, fd, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "openUdpSocket", NAPI_AUTO_LENGTH, open_udp_socket, NULL, &fn);
  napi_set_named_property(env, exports, "openUdpSocket", fn);
  return exports;
}
