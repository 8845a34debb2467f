/* cgi_noop.c - the floor for any CGI: a C program that answers a fixed
 * response without talking to anything.  Links libc only. */
#include <unistd.h>

int main(void)
{
	static const char r[] = "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n"
				"{\"status\":\"healthy\"}";
	return write(STDOUT_FILENO, r, sizeof r - 1) == (ssize_t)(sizeof r - 1) ? 0 : 1;
}
