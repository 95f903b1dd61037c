/*
 * mnt_notify.c - the notifier thread: tells the kernel about changes the
 * mount did not make itself.
 *
 * fuse_lowlevel_notify_inval_* drop the kernel's caches but raise no inotify
 * events. So for a change that arrived by watch, this thread performs the
 * operation through the mount point itself - open(O_CREAT) for ADDED, open
 * for writing and close for MODIFIED, unlink for DELETED, mkdir/rmdir for
 * namespaces - and the kernel raises IN_CREATE, IN_CLOSE_WRITE, IN_DELETE for
 * whoever watches. The FUSE handlers recognise this thread's requests by its
 * thread id (mnt_from_notifier) and answer them from the cache without going
 * to the server.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mnt.h"

#define MNT_NOTE_MAX 100000 /* beyond this, changes are not echoed */

typedef struct note {
	struct note *next;
	int op;
	uint64_t ino;
	char path[];
} note;

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static note *q_head, *q_tail;
static size_t q_len;
static atomic_int notifier_tid;
static pthread_t notifier;

bool mnt_from_notifier(fuse_req_t req)
{
	return fuse_req_ctx(req)->pid == atomic_load(&notifier_tid);
}

/* After an echo (done or not): clear the entity's hidden states (write lock held). */
static void settle_locked(mnt *m, int op, uint64_t ino)
{
	uint64_t id = ino >> 8;
	mnt_obj *o = mnt_ids_get(m, id, MNT_ENT_OBJ);
	if (o) {
		o->flags &= ~MNT_OBJ_ANNOUNCE;
		if (o->flags & MNT_OBJ_GONE)
			mnt_obj_remove(m, o);
	}
	mnt_ns *ns = mnt_ids_get(m, id, MNT_ENT_NS);
	if (ns) {
		if (op == MNT_NOTE_MKDIR)
			ns->announce = false;
		if (op == MNT_NOTE_RMDIR)
			ns->gone_pending = false;
	}
}

static void settle(mnt *m, int op, uint64_t ino)
{
	pthread_rwlock_wrlock(&m->lock);
	settle_locked(m, op, ino);
	pthread_rwlock_unlock(&m->lock);
}

void mnt_notify(mnt *m, int op, const char *path, uint64_t ino)
{
	if (!m->se || atomic_load(&m->stopping) ||
	    (m->no_inotify && op != MNT_NOTE_INVAL && op != MNT_NOTE_MODIFY &&
	     op != MNT_NOTE_FORGET)) {
		settle_locked(m, op, ino);
		return;
	}
	pthread_mutex_lock(&q_lock);
	if (q_len >= MNT_NOTE_MAX) {
		pthread_mutex_unlock(&q_lock);
		settle_locked(m, op, ino);
		return;
	}
	size_t pl = strlen(path);
	note *n = xmalloc(sizeof *n + pl + 1);
	n->next = NULL;
	n->op = op;
	n->ino = ino;
	memcpy(n->path, path, pl + 1);
	if (q_tail)
		q_tail->next = n;
	else
		q_head = n;
	q_tail = n;
	q_len++;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
}

/*
 * The kernel may still hold a name for an object deleted and made again
 * before its deletion was echoed: forget it, or O_CREAT would open the old one.
 */
static void drop_dentry(mnt *m, uint64_t ino)
{
	char name[600];
	uint64_t dir = 0;
	pthread_rwlock_rdlock(&m->lock);
	mnt_obj *o = mnt_ids_get(m, ino >> 8, MNT_ENT_OBJ);
	if (o) {
		dir = mnt_obj_dir_ino(m, o);
		snprintf(name, sizeof name, "%s.yaml", o->name);
	}
	pthread_rwlock_unlock(&m->lock);
	if (dir)
		fuse_lowlevel_notify_inval_entry(m->se, dir, name, strlen(name));
}

/*
 * Paths are resolved from the mount point for every operation: holding a
 * descriptor of the root would keep the mount busy for `fusermount3 -u`.
 */
static void perform(mnt *m, note *n)
{
	int fd;
	char *p = xasprintf("%s/%s", m->mountpoint, n->path);
	switch (n->op) {
	case MNT_NOTE_INVAL:
		fuse_lowlevel_notify_inval_inode(m->se, n->ino, 0, 0);
		free(p);
		return;
	case MNT_NOTE_FORGET:
		fuse_lowlevel_notify_inval_entry(m->se, n->ino, n->path, strlen(n->path));
		free(p);
		return;
	case MNT_NOTE_CREATE:
		drop_dentry(m, n->ino);
		fd = open(p, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
		break;
	case MNT_NOTE_MODIFY:
		fuse_lowlevel_notify_inval_inode(m->se, n->ino, 0, 0);
		if (m->no_inotify)
			break;
		fd = open(p, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
		break;
	case MNT_NOTE_DELETE:
		unlink(p);
		break;
	case MNT_NOTE_MKDIR:
		mkdir(p, 0755);
		break;
	case MNT_NOTE_RMDIR:
		rmdir(p);
		break;
	}
	free(p);
	if (n->op != MNT_NOTE_MODIFY)
		settle(m, n->op, n->ino);
}

static void *run(void *arg)
{
	mnt *m = arg;
	atomic_store(&notifier_tid, gettid());
	for (;;) {
		pthread_mutex_lock(&q_lock);
		while (!q_head && !atomic_load(&m->stopping))
			pthread_cond_wait(&q_cond, &q_lock);
		note *n = q_head;
		if (n) {
			q_head = n->next;
			if (!q_head)
				q_tail = NULL;
			q_len--;
		}
		pthread_mutex_unlock(&q_lock);
		if (!n)
			break;
		if (!atomic_load(&m->stopping))
			perform(m, n);
		else
			settle(m, n->op, n->ino);
		free(n);
	}
	return NULL;
}

void mnt_notify_start(mnt *m)
{
	pthread_create(&notifier, NULL, run, m);
}

/* The thread may be inside a request to this very mount: it is woken, not joined. */
void mnt_notify_stop(mnt *m)
{
	pthread_mutex_lock(&q_lock);
	atomic_store(&m->stopping, true);
	pthread_cond_broadcast(&q_cond);
	pthread_mutex_unlock(&q_lock);
	pthread_detach(notifier);
}
