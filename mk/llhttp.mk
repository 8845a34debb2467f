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
