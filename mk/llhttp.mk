# llhttp, the daemon's HTTP/1.1 response parser (daemon/http.c), compiled
# from the C sources Debian ships in node-llhttp (never copied into the
# tree).  Its own code is built without our warning set: it is not ours.
DEB_PACKAGES += node-llhttp
LLHTTP_DIR   := /usr/share/llhttp
LLHTTP_INC   := /usr/share/include/llhttp
LLHTTP_OBJ   := $(patsubst $(LLHTTP_DIR)/%.c,$(B)/llhttp/%.o,$(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c $(LLHTTP_DIR)/llhttp.c)
ALL_CFLAGS   += -isystem $(LLHTTP_INC)

$(B)/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(CFLAGS) $(SAN) -fPIC -w -isystem $(LLHTTP_INC) -c -o $@ $<

$(LLHTTP_DIR)/%.c:
	@echo "missing $@: install the Debian package node-llhttp (make deps)"; exit 1

$(DAEMON): $(LLHTTP_OBJ)

# The response parser's fuzz target (make fuzz runs every fuzz/fuzz_*.c).
$(B)/fuzz/fuzz_http: fuzz/fuzz_http.c daemon/http.c $(FUZZ_SHM_SRC) $(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c $(LLHTTP_DIR)/llhttp.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -isystem $(LLHTTP_INC) -o $@ $^ $(call pc_cflags,msgpack) $(call pc_libs,msgpack)

# The new suites of the engine run under ThreadSanitizer too.
TSAN_TESTS += badbackend seats
