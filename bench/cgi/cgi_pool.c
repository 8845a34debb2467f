/* cgi_pool.c - a CGI program that talks to PhantomDB through phantompool:
 * pp_attach ($PHANTOMPOOL), pp_do(GET /health), pp_detach.  Links only
 * -lphantompool (dynamically), as a user's CGI program would. */
#include <phantompool.h>
#include <stdio.h>

int main(void)
{
	pp_pool *p;
	int rc = pp_attach(NULL, &p);
	if (rc != 0) {
		printf("Status: 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\n%s\n", pp_strerror(rc));
		return 1;
	}
	pp_req req = { .method = "GET", .path = "/health" };
	pp_resp resp = { 0 };
	rc = pp_do(p, &req, &resp);
	int status = rc == 0 ? resp.status : 502;
	if (rc != 0)
		printf("Status: 502 Bad Gateway\r\nContent-Type: text/plain\r\n\r\n%s\n", pp_strerror(rc));
	else
		printf("Status: %d\r\nContent-Type: %s\r\n\r\n%.*s", resp.status,
		       resp.content_type[0] ? resp.content_type : "application/json", (int)resp.body_len,
		       resp.body ? resp.body : "");
	pp_resp_free(&resp);
	pp_detach(p);
	return status == 200 ? 0 : 1;
}
