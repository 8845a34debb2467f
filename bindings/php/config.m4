dnl config.m4 - the phantompool PHP extension (phpize; see docs/php.md).
dnl
dnl   ./configure --with-phantompool            libphantompool found with pkg-config
dnl   ./configure --with-phantompool=DIR        DIR/include/phantompool.h, DIR/lib
dnl   ./configure --with-phantompool=DIR --with-phantompool-libdir=LIBDIR
dnl                                             the library from LIBDIR instead
dnl                                             (the source tree: DIR=. LIBDIR=build)
dnl
dnl The extension links libphantompool.so.1 (with an rpath to a non-system
dnl LIBDIR) and nothing else of ours.

PHP_ARG_WITH([phantompool],
  [for phantompool support],
  [AS_HELP_STRING([[--with-phantompool[=DIR]]],
    [Include the phantompool shared-memory pool client (DIR: its prefix)])])

PHP_ARG_WITH([phantompool-libdir],
  [for the libphantompool library folder],
  [AS_HELP_STRING([[--with-phantompool-libdir=DIR]],
    [Folder of libphantompool.so (default: the prefix's lib)])], [no], [no])

if test "$PHP_PHANTOMPOOL" != "no"; then
  if test "$PHP_PHANTOMPOOL" = "yes"; then
    AC_PATH_PROG(PKG_CONFIG, pkg-config, no)
    if test "$PKG_CONFIG" = "no" || ! $PKG_CONFIG --exists phantompool; then
      AC_MSG_ERROR([libphantompool not found by pkg-config: install it (make install) or pass --with-phantompool=DIR])
    fi
    PP_INC=`$PKG_CONFIG --variable=includedir phantompool`
    PP_LIB=`$PKG_CONFIG --variable=libdir phantompool`
  else
    PP_INC="$PHP_PHANTOMPOOL/include"
    PP_LIB="$PHP_PHANTOMPOOL/lib"
  fi
  if test "$PHP_PHANTOMPOOL_LIBDIR" != "no"; then
    PP_LIB="$PHP_PHANTOMPOOL_LIBDIR"
  fi
  AC_MSG_CHECKING([for phantompool.h])
  if test -r "$PP_INC/phantompool.h"; then
    AC_MSG_RESULT([$PP_INC])
  else
    AC_MSG_ERROR([phantompool.h not found in $PP_INC])
  fi

  PHP_ADD_INCLUDE($PP_INC)
  PHP_CHECK_LIBRARY(phantompool, pp_abi_size,
    [PHP_ADD_LIBRARY_WITH_PATH(phantompool, $PP_LIB, PHANTOMPOOL_SHARED_LIBADD)],
    [AC_MSG_ERROR([libphantompool with pp_abi_size() not found in $PP_LIB])],
    [-L$PP_LIB])
  PHP_SUBST(PHANTOMPOOL_SHARED_LIBADD)

  PHP_NEW_EXTENSION(phantompool, phantompool.c pool.c client.c errors.c, $ext_shared)
  PHP_ADD_EXTENSION_DEP(phantompool, json)
fi
