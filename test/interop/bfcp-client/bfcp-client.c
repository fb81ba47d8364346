/*
 * bfcp-client: a BFCP floor participant for the tests, built on libre's BFCP (Debian libre-dev
 * 1.1: message and attribute codec, and over UDP its transactions with RFC 8855
 * retransmission). libre 1.1 has no BFCP-over-TCP connection, so over TCP this program opens a
 * libre TCP connection and frames libre-encoded messages on it itself (RFC 4582: back to back,
 * cut by the header's length); over TLS the same with libre's TLS layered on the connection
 * (the server certificate checked against --ca, reported as "verified" in "connected").
 *
 *   bfcp-client --transport tcp|tls|udp --server ADDR:PORT --conf N --user N [--floor N] [--ca FILE]
 *
 * Commands on stdin, one a line: hello | request [FLOOR] | request-for USER | release REQID |
 * reqquery REQID | query [FLOOR] | query-none | userquery | goodbye | conf N | user N |
 * ack on|off (UDP: acknowledge server notifications or not) | raw HEX (send bytes as they are) |
 * quit. Every message received is printed on stdout as one JSON line: {"event":"response",
 * "request":"FloorRequest",...} for an answer, {"event":"notification",...} for a
 * server-initiated one, plus "ready", "connected", "closed", "timeout", "decode-error",
 * "error" events. Built by scripts/build-bfcp-client.sh.
 */
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <stdarg.h>
#include <arpa/inet.h>
#include <re.h>

#define MAX_PENDING 32

static struct {
	bool tcp;
	struct sa srv;
	uint32_t confid;
	uint16_t userid;
	uint16_t floorid;
	bool ack;
	struct bfcp_conn *bc;     /* UDP */
	struct tcp_conn *tc;      /* TCP */
	struct tls *tls;          /* TLS context (--transport tls) */
	struct tls_conn *sc;      /* TLS on tc */
	struct mbuf *rx;          /* TCP input not yet framed */
	uint16_t tid;             /* TCP: next transaction ID */
	struct { uint16_t tid; const char *name; } pending[MAX_PENDING];
	char line[4096];
	size_t linelen;
} c;

static void print_json_string(const char *s, size_t len)
{
	size_t i;
	putchar('"');
	for (i = 0; i < len && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void print_attrs(const struct list *attrl)
{
	struct le *le;
	bool first = true;
	size_t i;

	putchar('[');
	for (le = list_head(attrl); le; le = le->next) {
		const struct bfcp_attr *a = le->data;
		const union bfcp_union *v = &a->v;

		if (!first)
			putchar(',');
		first = false;
		printf("{\"type\":\"%s\",\"code\":%d,\"m\":%s", bfcp_attr_name(a->type), a->type, a->mand ? "true" : "false");
		switch (a->type) {
		case BFCP_BENEFICIARY_ID:
		case BFCP_FLOOR_ID:
		case BFCP_FLOOR_REQUEST_ID:
			printf(",\"id\":%u", v->u16);
			break;
		case BFCP_PRIORITY:
			printf(",\"priority\":%d", v->priority);
			break;
		case BFCP_REQUEST_STATUS:
			printf(",\"status\":\"%s\",\"qpos\":%u", bfcp_reqstatus_name(v->reqstatus.status), v->reqstatus.qpos);
			break;
		case BFCP_ERROR_CODE:
			printf(",\"error\":%d,\"name\":", v->errcode.code);
			print_json_string(bfcp_errcode_name(v->errcode.code), 200);
			break;
		case BFCP_ERROR_INFO:
		case BFCP_PART_PROV_INFO:
		case BFCP_STATUS_INFO:
		case BFCP_USER_DISP_NAME:
		case BFCP_USER_URI:
			printf(",\"text\":");
			print_json_string(v->str ? v->str : "", 1024);
			break;
		case BFCP_SUPPORTED_ATTRS:
			printf(",\"attributes\":[");
			for (i = 0; i < v->supattr.attrc; i++)
				printf("%s%d", i ? "," : "", v->supattr.attrv[i]);
			putchar(']');
			break;
		case BFCP_SUPPORTED_PRIMS:
			printf(",\"primitives\":[");
			for (i = 0; i < v->supprim.primc; i++)
				printf("%s\"%s\"", i ? "," : "", bfcp_prim_name(v->supprim.primv[i]));
			putchar(']');
			break;
		case BFCP_BENEFICIARY_INFO:
		case BFCP_FLOOR_REQ_INFO:
		case BFCP_REQUESTED_BY_INFO:
		case BFCP_FLOOR_REQ_STATUS:
		case BFCP_OVERALL_REQ_STATUS:
			printf(",\"id\":%u,\"children\":", v->u16);
			print_attrs(&a->attrl);
			break;
		default:
			break;
		}
		putchar('}');
	}
	putchar(']');
}

static void print_msg(const char *event, const char *request, const struct bfcp_msg *msg)
{
	printf("{\"event\":\"%s\"", event);
	if (request)
		printf(",\"request\":\"%s\"", request);
	printf(",\"prim\":\"%s\",\"ver\":%u,\"r\":%s,\"confid\":%u,\"tid\":%u,\"userid\":%u,\"attrs\":",
	       bfcp_prim_name(msg->prim), msg->ver, msg->r ? "true" : "false", msg->confid, msg->tid, msg->userid);
	print_attrs(&msg->attrl);
	printf("}\n");
}

static void print_event(const char *event, const char *fmt, ...)
{
	va_list ap;
	printf("{\"event\":\"%s\"", event);
	if (fmt) {
		putchar(',');
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("}\n");
}

/* ---- UDP: libre's BFCP connection and transactions ---- */

static void udp_resp_handler(int err, const struct bfcp_msg *msg, void *arg)
{
	const char *name = arg;
	if (err || !msg) {
		print_event(err == ETIMEDOUT ? "timeout" : "error", "\"request\":\"%s\",\"errno\":%d", name, err);
		return;
	}
	print_msg("response", name, msg);
}

static void udp_recv_handler(const struct bfcp_msg *msg, void *arg)
{
	(void)arg;
	print_msg("notification", NULL, msg);
	if (!c.ack)
		return;
	if (msg->prim == BFCP_FLOOR_REQUEST_STATUS)
		(void)bfcp_reply(c.bc, msg, BFCP_FLOOR_REQ_STATUS_ACK, 0);
	else if (msg->prim == BFCP_FLOOR_STATUS)
		(void)bfcp_reply(c.bc, msg, BFCP_FLOOR_STATUS_ACK, 0);
}

/* ---- TCP: libre's TCP connection, libre's codec, our framing ---- */

static void tcp_handle(const struct bfcp_msg *msg)
{
	int i;
	if (msg->r) {
		for (i = 0; i < MAX_PENDING; i++) {
			if (c.pending[i].name && c.pending[i].tid == msg->tid) {
				print_msg("response", c.pending[i].name, msg);
				c.pending[i].name = NULL;
				return;
			}
		}
		print_msg("response", NULL, msg);
		return;
	}
	print_msg("notification", NULL, msg);
}

static void tcp_recv_handler(struct mbuf *mb, void *arg)
{
	(void)arg;
	c.rx->pos = c.rx->end;
	if (mbuf_write_mem(c.rx, mbuf_buf(mb), mbuf_get_left(mb)))
		return;
	c.rx->pos = 0;
	for (;;) {
		size_t left = c.rx->end - c.rx->pos, total, start = c.rx->pos, end = c.rx->end;
		struct bfcp_msg *msg = NULL;
		uint16_t len;
		int err;

		if (left < 12)
			break;
		memcpy(&len, c.rx->buf + start + 2, 2);
		total = 12 + 4 * (size_t)ntohs(len);
		if (left < total)
			break;
		c.rx->end = start + total;
		err = bfcp_msg_decode(&msg, c.rx);
		c.rx->end = end;
		c.rx->pos = start + total;
		if (err) {
			print_event("decode-error", "\"errno\":%d", err);
			continue;
		}
		tcp_handle(msg);
		mem_deref(msg);
	}
	if (c.rx->pos > 0) {
		size_t rest = c.rx->end - c.rx->pos;
		memmove(c.rx->buf, c.rx->buf + c.rx->pos, rest);
		c.rx->end = rest;
		c.rx->pos = 0;
	}
}

static void tcp_estab_handler(void *arg)
{
	(void)arg;
	if (c.sc)
		print_event("connected", "\"tls\":true,\"verified\":%s", tls_peer_verify(c.sc) == 0 ? "true" : "false");
	else
		print_event("connected", NULL);
}

static void tcp_close_handler(int err, void *arg)
{
	(void)arg;
	c.sc = mem_deref(c.sc);
	c.tc = mem_deref(c.tc);
	print_event("closed", "\"errno\":%d", err);
}

static int tcp_request(enum bfcp_prim prim, const char *name, unsigned attrc, ...)
{
	struct mbuf *mb;
	va_list ap;
	int err, i;

	if (!c.tc)
		return ENOTCONN;
	mb = mbuf_alloc(128);
	if (!mb)
		return ENOMEM;
	if (++c.tid == 0)
		c.tid = 1;
	va_start(ap, attrc);
	err = bfcp_msg_vencode(mb, BFCP_VER1, false, prim, c.confid, c.tid, c.userid, attrc, &ap);
	va_end(ap);
	if (!err) {
		mb->pos = 0;
		for (i = 0; i < MAX_PENDING; i++) {
			if (!c.pending[i].name) {
				c.pending[i].tid = c.tid;
				c.pending[i].name = name;
				break;
			}
		}
		err = tcp_send(c.tc, mb);
	}
	mem_deref(mb);
	return err;
}

#define REQUEST(prim, name, attrc, ...)                                                           \
	(c.tcp ? tcp_request(prim, name, attrc, ##__VA_ARGS__)                                    \
	       : bfcp_request(c.bc, &c.srv, BFCP_VER2, prim, c.confid, c.userid, udp_resp_handler, \
			      (void *)(name), attrc, ##__VA_ARGS__))

static int send_raw(const char *hex)
{
	struct mbuf *mb = mbuf_alloc(strlen(hex) / 2 + 1);
	size_t i;
	int err;

	if (!mb)
		return ENOMEM;
	for (i = 0; hex[i] && hex[i + 1]; i += 2) {
		unsigned v;
		if (sscanf(hex + i, "%2x", &v) != 1)
			break;
		(void)mbuf_write_u8(mb, (uint8_t)v);
	}
	mb->pos = 0;
	if (c.tcp)
		err = c.tc ? tcp_send(c.tc, mb) : ENOTCONN;
	else
		err = udp_send(bfcp_sock(c.bc), &c.srv, mb);
	mem_deref(mb);
	return err;
}

static void command(char *line)
{
	char verb[32] = "";
	unsigned arg = 0;
	int n = sscanf(line, "%31s %u", verb, &arg);
	uint16_t u16 = (uint16_t)arg;
	int err = 0;

	if (n < 1)
		return;
	if (!strcmp(verb, "hello")) {
		err = REQUEST(BFCP_HELLO, "Hello", 0);
	}
	else if (!strcmp(verb, "request")) {
		static uint16_t floor;
		floor = n > 1 ? u16 : c.floorid;
		err = REQUEST(BFCP_FLOOR_REQUEST, "FloorRequest", 1, BFCP_FLOOR_ID | BFCP_MANDATORY, 0, &floor);
	}
	else if (!strcmp(verb, "request-for")) {
		static uint16_t floor, beneficiary;
		floor = c.floorid;
		beneficiary = u16;
		err = REQUEST(BFCP_FLOOR_REQUEST, "FloorRequest", 2, BFCP_FLOOR_ID | BFCP_MANDATORY, 0, &floor,
			      BFCP_BENEFICIARY_ID | BFCP_MANDATORY, 0, &beneficiary);
	}
	else if (!strcmp(verb, "release")) {
		static uint16_t reqid;
		reqid = u16;
		err = REQUEST(BFCP_FLOOR_RELEASE, "FloorRelease", 1, BFCP_FLOOR_REQUEST_ID | BFCP_MANDATORY, 0, &reqid);
	}
	else if (!strcmp(verb, "reqquery")) {
		static uint16_t reqid;
		reqid = u16;
		err = REQUEST(BFCP_FLOOR_REQUEST_QUERY, "FloorRequestQuery", 1, BFCP_FLOOR_REQUEST_ID | BFCP_MANDATORY, 0, &reqid);
	}
	else if (!strcmp(verb, "query")) {
		static uint16_t floor;
		floor = n > 1 ? u16 : c.floorid;
		err = REQUEST(BFCP_FLOOR_QUERY, "FloorQuery", 1, BFCP_FLOOR_ID | BFCP_MANDATORY, 0, &floor);
	}
	else if (!strcmp(verb, "query-none")) {
		err = REQUEST(BFCP_FLOOR_QUERY, "FloorQuery", 0);
	}
	else if (!strcmp(verb, "userquery")) {
		err = REQUEST(BFCP_USER_QUERY, "UserQuery", 0);
	}
	else if (!strcmp(verb, "goodbye")) {
		err = REQUEST(BFCP_GOODBYE, "Goodbye", 0);
	}
	else if (!strcmp(verb, "conf")) {
		c.confid = arg;
	}
	else if (!strcmp(verb, "user")) {
		c.userid = u16;
	}
	else if (!strcmp(verb, "ack")) {
		c.ack = strstr(line, "on") != NULL;
	}
	else if (!strcmp(verb, "raw")) {
		char hex[4000] = "";
		if (sscanf(line, "%*s %3999s", hex) == 1)
			err = send_raw(hex);
	}
	else if (!strcmp(verb, "quit")) {
		re_cancel();
		return;
	}
	else {
		print_event("error", "\"message\":\"unknown command\"");
		return;
	}
	if (err)
		print_event("error", "\"command\":\"%s\",\"errno\":%d", verb, err);
	else
		print_event("sent", "\"command\":\"%s\"", verb);
}

static void stdin_handler(int flags, void *arg)
{
	char buf[1024];
	ssize_t n, i;
	(void)flags;
	(void)arg;

	n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n <= 0) {
		fd_close(STDIN_FILENO);
		re_cancel();
		return;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			c.line[c.linelen] = '\0';
			command(c.line);
			c.linelen = 0;
		}
		else if (c.linelen < sizeof(c.line) - 1) {
			c.line[c.linelen++] = buf[i];
		}
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: bfcp-client --transport tcp|tls|udp --server ADDR:PORT --conf N --user N [--floor N] [--ca FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *server = NULL, *ca = NULL;
	bool use_tls = false;
	int i, err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	c.floorid = 1;
	c.ack = true;
	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--transport")) {
			use_tls = !strcmp(argv[i + 1], "tls");
			c.tcp = use_tls || !strcmp(argv[i + 1], "tcp");
		}
		else if (!strcmp(argv[i], "--ca"))
			ca = argv[i + 1];
		else if (!strcmp(argv[i], "--server"))
			server = argv[i + 1];
		else if (!strcmp(argv[i], "--conf"))
			c.confid = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--user"))
			c.userid = (uint16_t)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--floor"))
			c.floorid = (uint16_t)strtoul(argv[i + 1], NULL, 10);
		else
			usage();
	}
	if (!server || sa_decode(&c.srv, server, strlen(server)))
		usage();

	err = libre_init();
	if (err) {
		fprintf(stderr, "libre_init failed: %d\n", err);
		return 1;
	}
	if (c.tcp) {
		c.rx = mbuf_alloc(1024);
		if (use_tls) {
			err = tls_alloc(&c.tls, TLS_METHOD_SSLV23, NULL, NULL);
			if (!err && ca)
				err = tls_add_ca(c.tls, ca);
		}
		if (!err)
			err = tcp_connect(&c.tc, &c.srv, tcp_estab_handler, tcp_recv_handler, tcp_close_handler, NULL);
		if (!err && use_tls)
			err = tls_start_tcp(&c.sc, c.tls, c.tc, 0);
		if (!err)
			print_event("ready", "\"transport\":\"%s\"", use_tls ? "tls" : "tcp");
	}
	else {
		struct sa laddr;
		sa_init(&laddr, sa_af(&c.srv));
		sa_set_str(&laddr, sa_af(&c.srv) == AF_INET6 ? "::1" : "127.0.0.1", 0);
		err = bfcp_listen(&c.bc, BFCP_UDP, &laddr, NULL, udp_recv_handler, NULL);
		if (!err)
			print_event("ready", "\"transport\":\"udp\",\"port\":%u", sa_port(&laddr));
	}
	if (err) {
		print_event("error", "\"message\":\"cannot open the transport\",\"errno\":%d", err);
		libre_close();
		return 1;
	}
	err = fd_listen(STDIN_FILENO, FD_READ, stdin_handler, NULL);
	if (err) {
		fprintf(stderr, "fd_listen failed: %d\n", err);
		return 1;
	}
	(void)re_main(NULL);
	fd_close(STDIN_FILENO);
	c.bc = mem_deref(c.bc);
	c.sc = mem_deref(c.sc);
	c.tc = mem_deref(c.tc);
	c.tls = mem_deref(c.tls);
	c.rx = mem_deref(c.rx);
	libre_close();
	return 0;
}
