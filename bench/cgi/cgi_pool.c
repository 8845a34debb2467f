/* cgi_pool.c - a CGI program that talks to PhantomDB through phantompool:
 * pp_attach ($PHANTOMPOOL), pp_do(GET /health), pp_detach.  Links only
 * -lphantompool (dynamically), as a user's CGI program would. */
#include <phantompool.h>
#include <string.h>

#include "answer.h"

int main(void)
{
	pp_pool *p;
	int rc = pp_attach(NULL, &p);
	if (rc != 0) {
		cgi_answer(503, "text/plain", pp_strerror(rc), strlen(pp_strerror(rc)));
		return 1;
	}
	pp_req req = { .method = "GET", .path = "/health" };
	pp_resp resp = { 0 };
	rc = pp_do(p, &req, &resp);
	int status = rc == 0 ? resp.status : 502;
	if (rc != 0)
		cgi_answer(502, "text/plain", pp_strerror(rc), strlen(pp_strerror(rc)));
	else
		cgi_answer(resp.status, resp.content_type[0] ? resp.content_type : "application/json",
			   resp.body ? resp.body : "", resp.body ? resp.body_len : 0);
	pp_resp_free(&resp);
	pp_detach(p);
	return status == 200 ? 0 : 1;
}
