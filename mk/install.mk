# mk/install.mk - make install, make uninstall, make installcheck.
#
#   make install [PREFIX=/usr/local] [DESTDIR=/staging]
#
# What goes where (PREFIX=/usr/local unless given):
#   $(SBINDIR)/phantompoold            $(BINDIR)/phantompool-shmdump
#   $(LIBDIR)/libphantompool.so.$(VERSION)     the library (real name)
#   $(LIBDIR)/libphantompool.so.$(SOVERSION)   -> real name (the soname)
#   $(LIBDIR)/libphantompool.so                -> soname (for -lphantompool)
#   $(LIBDIR)/libphantompool.a         $(PKGCONFIGDIR)/phantompool.pc
#   $(INCLUDEDIR)/phantompool.h
#   $(MANDIR)/man8/phantompoold.8, man1/phantompool-shmdump.1,
#     man3/phantompool.3 and one man3/pp_*.3 per function (".so" links to it)
#   $(DOCDIR)/phantompoold.conf        the sample config (always refreshed)
#   $(SYSCONFDIR)/phantompool/phantompoold.conf   the same, only if absent:
#     an edited config is never overwritten (SYSCONFDIR is /etc for
#     PREFIX=/usr, else $(PREFIX)/etc)
#   $(SYSTEMDUNITDIR)/phantompoold.service   paths rewritten for PREFIX
# uninstall removes all of it, except a config that differs from the sample.

BINDIR         ?= $(PREFIX)/bin
SBINDIR        ?= $(PREFIX)/sbin
LIBDIR         ?= $(PREFIX)/lib
INCLUDEDIR     ?= $(PREFIX)/include
PKGCONFIGDIR   ?= $(LIBDIR)/pkgconfig
MANDIR         ?= $(PREFIX)/share/man
DOCDIR         ?= $(PREFIX)/share/doc/phantompool
SYSCONFDIR     ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL        ?= install
LDCONFIG       ?= ldconfig

LIB_REALNAME   := libphantompool.so.$(VERSION)
# The public functions, for the man3 alias pages (read when needed).
lparen         := (
PP_FUNCS        = $(shell sed -n 's/^PP_EXPORT.*[ *]\(pp_[a-z0-9_]*\)$(lparen).*/\1/p' include/phantompool.h)
# In phantompool.pc, paths under PREFIX are written with ${prefix}.
pc_path         = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
D               = $(DESTDIR)

.PHONY: installcheck install-bin install-lib install-man install-conf
install: install-bin install-lib install-man install-conf
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then $(LDCONFIG) || true; fi

install-bin: $(DAEMON) $(SHMDUMP)
	$(INSTALL) -d $(D)$(SBINDIR) $(D)$(BINDIR)
	$(INSTALL) -m 755 $(DAEMON) $(D)$(SBINDIR)/phantompoold
	$(INSTALL) -m 755 $(SHMDUMP) $(D)$(BINDIR)/phantompool-shmdump

install-lib: $(CLIENT_SO) $(CLIENT_A) include/phantompool.h libclient/phantompool.pc.in
	$(INSTALL) -d $(D)$(LIBDIR) $(D)$(INCLUDEDIR) $(D)$(PKGCONFIGDIR)
	$(INSTALL) -m 755 $(CLIENT_SO) $(D)$(LIBDIR)/$(LIB_REALNAME)
	ln -sf $(LIB_REALNAME) $(D)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_NAME) $(D)$(LIBDIR)/libphantompool.so
	$(INSTALL) -m 644 $(CLIENT_A) $(D)$(LIBDIR)/libphantompool.a
	$(INSTALL) -m 644 include/phantompool.h $(D)$(INCLUDEDIR)/phantompool.h
	sed -e 's|@prefix@|$(PREFIX)|' -e 's|@libdir@|$(call pc_path,$(LIBDIR))|' \
	    -e 's|@includedir@|$(call pc_path,$(INCLUDEDIR))|' -e 's|@version@|$(VERSION)|' \
	    libclient/phantompool.pc.in > $(D)$(PKGCONFIGDIR)/phantompool.pc
	chmod 644 $(D)$(PKGCONFIGDIR)/phantompool.pc

install-man: docs/phantompoold.8 docs/phantompool-shmdump.1 docs/phantompool.3
	$(INSTALL) -d $(D)$(MANDIR)/man1 $(D)$(MANDIR)/man3 $(D)$(MANDIR)/man8
	$(INSTALL) -m 644 docs/phantompoold.8 $(D)$(MANDIR)/man8/phantompoold.8
	$(INSTALL) -m 644 docs/phantompool-shmdump.1 $(D)$(MANDIR)/man1/phantompool-shmdump.1
	$(INSTALL) -m 644 docs/phantompool.3 $(D)$(MANDIR)/man3/phantompool.3
	@for f in $(PP_FUNCS); do \
	  echo '.so man3/phantompool.3' > $(D)$(MANDIR)/man3/$$f.3 && chmod 644 $(D)$(MANDIR)/man3/$$f.3 || exit 1; \
	done; echo "$(words $(PP_FUNCS)) pp_*.3 pages -> phantompool.3"

install-conf: etc/phantompoold.conf etc/phantompoold.service
	$(INSTALL) -d $(D)$(DOCDIR) $(D)$(SYSCONFDIR)/phantompool $(D)$(SYSTEMDUNITDIR)
	$(INSTALL) -m 644 etc/phantompoold.conf $(D)$(DOCDIR)/phantompoold.conf
	@if [ -e $(D)$(SYSCONFDIR)/phantompool/phantompoold.conf ]; then \
	  echo "keeping $(D)$(SYSCONFDIR)/phantompool/phantompoold.conf"; \
	else \
	  echo "$(INSTALL) -m 644 etc/phantompoold.conf $(D)$(SYSCONFDIR)/phantompool/phantompoold.conf"; \
	  $(INSTALL) -m 644 etc/phantompoold.conf $(D)$(SYSCONFDIR)/phantompool/phantompoold.conf; \
	fi
	sed -e 's|/usr/sbin/phantompoold|$(SBINDIR)/phantompoold|g' \
	    -e 's|/etc/phantompool/|$(SYSCONFDIR)/phantompool/|g' \
	    etc/phantompoold.service > $(D)$(SYSTEMDUNITDIR)/phantompoold.service
	chmod 644 $(D)$(SYSTEMDUNITDIR)/phantompoold.service

uninstall:
	rm -f $(D)$(SBINDIR)/phantompoold $(D)$(BINDIR)/phantompool-shmdump
	rm -f $(D)$(LIBDIR)/$(LIB_REALNAME) $(D)$(LIBDIR)/$(SO_NAME) $(D)$(LIBDIR)/libphantompool.so \
	      $(D)$(LIBDIR)/libphantompool.a $(D)$(PKGCONFIGDIR)/phantompool.pc \
	      $(D)$(INCLUDEDIR)/phantompool.h
	rm -f $(D)$(MANDIR)/man8/phantompoold.8 $(D)$(MANDIR)/man1/phantompool-shmdump.1 \
	      $(D)$(MANDIR)/man3/phantompool.3 $(foreach f,$(PP_FUNCS),$(D)$(MANDIR)/man3/$(f).3)
	rm -f $(D)$(DOCDIR)/phantompoold.conf $(D)$(SYSTEMDUNITDIR)/phantompoold.service
	@c=$(D)$(SYSCONFDIR)/phantompool/phantompoold.conf; \
	if [ -e $$c ] && ! cmp -s $$c etc/phantompoold.conf; then echo "keeping $$c (edited)"; \
	else rm -f $$c; fi
	@rmdir $(D)$(DOCDIR) 2>/dev/null || true
	@rmdir $(D)$(SYSCONFDIR)/phantompool 2>/dev/null || true
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then $(LDCONFIG) || true; fi

# After `make install`: the installed pkg-config file, header and library
# build and run a program (uses DESTDIR too, for a staged install).
installcheck:
	@set -e; t=$$(mktemp -d); trap 'rm -rf "$$t"' EXIT; \
	printf '#include <phantompool.h>\n#include <stdio.h>\nint main(void) {\n\tprintf("%%d\\n", pp_version());\n\treturn pp_version() == PP_VERSION_NUMBER ? 0 : 1;\n}\n' > $$t/c.c; \
	export PKG_CONFIG_PATH=$(D)$(PKGCONFIGDIR) PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1; \
	[ -z "$(DESTDIR)" ] || export PKG_CONFIG_SYSROOT_DIR=$(DESTDIR); \
	v=$$($(PKG) --modversion phantompool); [ "$$v" = "$(VERSION)" ] || { echo "installcheck: pkg-config says version '$$v', not $(VERSION)"; exit 1; }; \
	$(CC) $(SAN) -o $$t/c $$t/c.c $$($(PKG) --cflags --libs phantompool); \
	LD_LIBRARY_PATH=$(D)$(LIBDIR) $$t/c >/dev/null; \
	echo "installcheck: phantompool $$v: pkg-config, header and library work"

# tests/test_config.c calls the daemon's option code in-process: it links
# daemon/options.o, daemon/config.o, daemon/url.o (the URL check) and
# daemon/log.o, and libinih, besides what every
# test links.  (An explicit rule: it takes precedence over the pattern
# rule $(B)/tests/% of the Makefile for this one program.)
$(B)/tests/test_config: $(B)/tests/test_config.o $(call obj,$(TESTLIB_SRC)) \
                        $(B)/daemon/options.o $(B)/daemon/config.o $(B)/daemon/url.o $(B)/daemon/log.o $(CLIENT_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(TEST_PKGS) inih libbsd) -lrt -lm
