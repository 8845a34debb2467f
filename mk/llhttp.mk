# llhttp, the daemon's HTTP/1.1 response parser (daemon/http.c), compiled
# from the C sources Debian ships in node-llhttp (never copied into the
# tree).  Its own code is built without our warning set: it is not ours.
# Strict mode: the default build of llhttp 8.1 takes any byte after a CR
# as its LF (a bare CR in a status line shifts the header block into the
# body), any two bytes after a chunk's data as its CRLF (a short chunk
# size truncates the body unnoticed) and white space before a header's
# colon as part of its name (an X-Request-Id or Content-Encoding so
# written was not seen); strict mode refuses all three.
DEB_PACKAGES += node-llhttp
LLHTTP_DIR   := /usr/share/llhttp
LLHTTP_INC   := /usr/share/include/llhttp
LLHTTP_MODE  := -DLLHTTP_STRICT_MODE=1
LLHTTP_OBJ   := $(patsubst $(LLHTTP_DIR)/%.c,$(B)/llhttp/%.o,$(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c $(LLHTTP_DIR)/llhttp.c)
ALL_CFLAGS   += -isystem $(LLHTTP_INC)

$(B)/llhttp/%.o: $(LLHTTP_DIR)/%.c mk/llhttp.mk
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(CFLAGS) $(SAN) $(LLHTTP_MODE) -fPIC -w -isystem $(LLHTTP_INC) -c -o $@ $<

$(LLHTTP_DIR)/%.c:
	@echo "missing $@: install the Debian package node-llhttp (make deps)"; exit 1

$(DAEMON): $(LLHTTP_OBJ)

# The response parser's fuzz target (make fuzz runs every fuzz/fuzz_*.c).
$(B)/fuzz/fuzz_http: fuzz/fuzz_http.c daemon/http.c $(FUZZ_SHM_SRC) $(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c $(LLHTTP_DIR)/llhttp.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(LLHTTP_MODE) -isystem $(LLHTTP_INC) -o $@ $^ $(call pc_cflags,msgpack) $(call pc_libs,msgpack)

# The new suites of the engine run under ThreadSanitizer too.
TSAN_TESTS += badbackend seats
