/* exchange.h - one request/response exchange as a non-blocking state
 * machine: a seat's request frames out to a connection as HTTP/1.1, the
 * response parsed and framed back into the seat's response ring.  Also
 * the pool's own health checks (GET /health, no seat).
 *
 *   start: take REQ_HEAD, check it, pick the node, write the request head
 *   run:   connect (if the connection is closed) -> send head and body
 *          (Content-Length or chunked) as the worker writes it -> read,
 *          parse, publish RESP_HEAD, BODY..., END
 *   fail:  ERROR to the worker (after what it already has), the rest of
 *          the request drained to its END, the connection closed
 *
 * An exchange never waits: when it needs the socket, the worker's next
 * frame, or room in the response ring, it says so (pd_exchange_wants) and
 * returns; the serving loop calls pd_exchange_run again when that comes.
 *
 * The connection is reused only when everything about the last exchange
 * was clean: the whole request went out, the response was complete with
 * unambiguous framing, nothing followed it, the backend did not ask to
 * close, and (checked again before the next request goes out) nothing
 * arrived on it while idle.  A request that failed on a reused connection
 * before any byte of an answer came is sent once more on a fresh one when
 * it cannot have been processed (the connection was already closed when
 * we wrote, or the method is idempotent) and all of it is still in the
 * send buffer.  Any other failed send stops sending and reads on: a
 * backend that answered early and closed has its answer taken.
 *
 * Each exchange object is paired with one connection object for good
 * (xs[k] with conns[k]); a seat is attached to it for one exchange. */
#ifndef PD_EXCHANGE_H
#define PD_EXCHANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "http.h"
#include "seat.h"
#include "xfer.h"

struct pd_daemon;

/* What an exchange waits for (pd_exchange_wants). */
struct pd_wants {
	int fd;                /* socket to poll, -1 none */
	short events;          /* POLLIN / POLLOUT */
	bool req_ring;         /* the worker's next request frame */
	bool resp_ring;        /* room in the response ring */
	uint32_t resp_room;    /* with resp_ring: the room it needs to go on (<= the ring) */
	uint64_t deadline_ns;  /* call pd_exchange_run by then (timeouts, libcurl timers) */
};

struct pd_exchange {
	struct pd_daemon *d;
	struct pd_conn *conn;       /* its connection object, for good */
	struct pd_seat *seat;       /* NULL: a health check */
	bool active;
	/* The request. */
	uint8_t *scratch;           /* one decoded request frame */
	char *sendbuf;
	uint32_t send_cap, send_len, send_pos;
	bool replayable;            /* sendbuf still holds the request from its first byte */
	bool req_end;               /* END taken from the ring (or no ring) */
	bool req_discard;           /* stop sending; take frames to END and drop them */
	bool sent_any;              /* some byte of this attempt went out */
	bool idempotent, head_method;
	enum pd_http_body body_mode;
	int64_t declared;
	uint64_t body_seen;
	uint32_t attempts;
	bool reused;                /* this attempt runs on a connection used before */
	bool conn_used;             /* the connection was opened or taken for it */
	bool connect_failed;        /* a connect of it failed (reported to the backend tracker) */
	uint32_t node;              /* the node the request goes to */
	/* The X-Request-Id the request carries: the worker's, or one the
	 * daemon made (then not forwarded back).  A response echoing another
	 * id answers another request: refused. */
	char rid[PP_FRAME_HVALUE_MAX]; /* any value pp_req_head_check lets through */
	uint32_t rid_len;
	bool rid_ours;
	bool rid_mismatch;
	/* The response. */
	struct pd_http_resp parser;
	uint8_t *recvbuf;
	uint32_t recv_cap;
	struct pp_batch out;        /* frames not yet published */
	uint8_t *stage;             /* body bytes coalesced into one BODY frame */
	uint32_t stage_len, chunk;
	bool resp_started;          /* a byte of a response arrived */
	bool resp_done;             /* the response is complete (or failed) */
	/* The response's END, held until the request's END is taken: a worker
	 * that sees its exchange end may start the next one at once, and must
	 * find both rings empty (resp_complete). */
	bool end_held;
	bool keep_conn;             /* the connection may serve the next exchange */
	uint64_t resp_bytes;
	int status;
	/* Outcome. */
	int code;                   /* PP_E* it failed with, 0 */
	bool failed;
	bool error_pending;         /* the ERROR frame still has to go into `out` (held like END) */
	char why[256];
	uint64_t t0, deadline_ns;
	/* What it waits for (set by run). */
	bool want_read, want_write, want_req, want_resp;
	uint32_t resp_need;         /* with want_resp: room the response ring must have */
	bool waited_worker;         /* counted in the pool's escalations */
};

/* Allocate the buffers of x (paired with conn).  Returns 0 or -1. */
int pd_exchange_init(struct pd_exchange *x, struct pd_daemon *d, struct pd_conn *conn);
void pd_exchange_free(struct pd_exchange *x);

/* Begin an exchange for seat s (a request frame waits in its ring) on
 * x's connection, and run it as far as it goes.  x must be idle. */
void pd_exchange_start(struct pd_exchange *x, struct pd_seat *s);

/* Begin a health check (GET /health) of node `node` (UINT32_MAX: the node
 * in use) on x's connection, opening it if needed, and run it. */
void pd_exchange_start_health(struct pd_exchange *x, uint32_t node);

/* Carry on: revents are poll(2) events seen on the socket it asked for
 * (0: none; the rings or a timer may have moved).  Finishes the exchange
 * (x->active false) when it is over. */
void pd_exchange_run(struct pd_exchange *x, short revents);

/* What x waits for now. */
void pd_exchange_wants(const struct pd_exchange *x, struct pd_wants *w);

/* Stop x at once (its seat is being reset, or the daemon stops): the
 * connection is closed, nothing more goes into the rings. */
void pd_exchange_abort(struct pd_exchange *x, int code);

#endif
