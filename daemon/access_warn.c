/* access_warn.c - see access_warn.h. */
#include "access_warn.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>

#include "log.h"
#include "sys.h"

void pd_access_warn(const struct pd_options *o, const char *shm_name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof path, PP_SHM_DIR "%s", shm_name);
	if (stat(path, &st) < 0)
		return;		/* not a tmpfs path we can see: nothing to say */
	unsigned mode = st.st_mode & 0777;
	struct group *g = getgrgid(st.st_gid);
	struct passwd *u = getpwuid(st.st_uid);
	const char *gname = g ? g->gr_name : "?", *uname = u ? u->pw_name : "?";

	if (o->group[0] && (mode & 0060) != 0060)
		pd_warn("segment %s is mode 0%o: group '%s' (named by group =) cannot read and write it, "
			"so its members get PP_EACCES; set mode = 0660", path, mode, o->group);
	else if (mode & 0007)
		pd_warn("segment %s is mode 0%o: every local user can attach and read the pool's requests; "
			"use mode = 0660 with group = the workers' group", path, mode);
	else if (!o->group[0] && (mode & 0060) == 0)
		pd_info("segment %s is mode 0%o, owner %s: only user %s can attach; workers running "
			"as another user (e.g. www-data) get PP_EACCES: set mode = 0660 and group = their group",
			path, mode, uname, uname);
	else
		pd_info("segment %s is mode 0%o, owner %s, group %s: members of group %s can attach",
			path, mode, uname, gname, gname);
}
