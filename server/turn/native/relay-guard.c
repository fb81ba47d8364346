/*
 * The TURN relay's port guard: a small library loaded into coturn (`turnserver`, through
 * LD_PRELOAD by server/turn/turn-service.ts) that lets the relay's relayed sockets send only to
 * the media ports. coturn restricts peers by address (allowed-peer-ip/denied-peer-ip) but not
 * by port, so without this a guest with valid credentials could relay UDP from the box's own
 * address to any UDP port on the media address (SIP, the IVR, anything listening there).
 *
 * A socket is a relayed one when it is bound to a port of the relay range (coturn's min-port
 * to max-port) other than the relay's listening port; such a socket may send (sendto, sendmsg)
 * only to a destination port inside the peer range. A datagram to any other port is dropped
 * as a firewall drops it: not sent, and reported to coturn as sent, so the allocation goes on
 * (an error would make coturn close the relayed socket). A connect() to such a port fails with
 * EPERM. Every other socket of the process (the client side, the user database) is left alone.
 * Drops are counted on stderr (coturn's log) at the 1st, 2nd, 4th, 8th… so a flood of them
 * cannot fill the log. Ranges come from the environment:
 *   VCBOX_RELAY_GUARD_RELAY_PORTS=min-max   the relay's own ports (media.turnPorts)
 *   VCBOX_RELAY_GUARD_PEER_PORTS=min-max    the ports peers may have (media.mcuPorts)
 *   VCBOX_RELAY_GUARD_LISTEN_PORT=n         the relay's listening port (never guarded)
 * Without a valid VCBOX_RELAY_GUARD_PEER_PORTS every relayed send is refused (deny by default).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>

static int relay_min = 1, relay_max = 65535, peer_min = 1, peer_max = 0, listen_port = -1;

static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);

static void range_from(const char *name, int *low, int *high) {
  const char *value = getenv(name);
  int a, b;
  if (value && sscanf(value, "%d-%d", &a, &b) == 2 && a >= 1 && b <= 65535 && a <= b) {
    *low = a;
    *high = b;
  }
}

__attribute__((constructor)) static void relay_guard_init(void) {
  real_sendto = dlsym(RTLD_NEXT, "sendto");
  real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
  real_connect = dlsym(RTLD_NEXT, "connect");
  range_from("VCBOX_RELAY_GUARD_RELAY_PORTS", &relay_min, &relay_max);
  range_from("VCBOX_RELAY_GUARD_PEER_PORTS", &peer_min, &peer_max);
  const char *listen = getenv("VCBOX_RELAY_GUARD_LISTEN_PORT");
  if (listen) listen_port = atoi(listen);
}

static int port_of(const struct sockaddr *address) {
  if (!address) return -1;
  if (address->sa_family == AF_INET) return ntohs(((const struct sockaddr_in *)address)->sin_port);
  if (address->sa_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)address)->sin6_port);
  return -1;
}

static unsigned long dropped;

/* Counts one refused send; says so when the count reaches a power of two. */
static void count_drop(int port) {
  dropped++;
  if ((dropped & (dropped - 1)) == 0) {
    fprintf(stderr, "relay guard: %lu datagram(s) to peer ports outside %d-%d dropped (the last to port %d)\n", dropped, peer_min, peer_max, port);
  }
}

/* Whether sending from `fd` to `to` is refused. */
static int refused(int fd, const struct sockaddr *to) {
  int port = port_of(to);
  if (port < 0 || (port >= peer_min && port <= peer_max)) return 0;
  struct sockaddr_storage local;
  socklen_t length = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &length) != 0) return 0;
  int own = port_of((const struct sockaddr *)&local);
  return own >= relay_min && own <= relay_max && own != listen_port;
}

ssize_t sendto(int fd, const void *buffer, size_t length, int flags, const struct sockaddr *to, socklen_t to_length) {
  if (refused(fd, to)) {
    count_drop(port_of(to));
    return (ssize_t)length;
  }
  return real_sendto(fd, buffer, length, flags, to, to_length);
}

ssize_t sendmsg(int fd, const struct msghdr *message, int flags) {
  if (message && refused(fd, (const struct sockaddr *)message->msg_name)) {
    count_drop(port_of((const struct sockaddr *)message->msg_name));
    ssize_t length = 0;
    for (size_t i = 0; i < message->msg_iovlen; i++) length += (ssize_t)message->msg_iov[i].iov_len;
    return length;
  }
  return real_sendmsg(fd, message, flags);
}

int connect(int fd, const struct sockaddr *to, socklen_t to_length) {
  if (refused(fd, to)) {
    errno = EPERM;
    return -1;
  }
  return real_connect(fd, to, to_length);
}
