/* session.c - login sessions of the web page; see session.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "creds.h"
#include "err.h"
#include "session.h"

struct session {
	char id[SESSION_ID_LEN + 1];
	struct orch_principal who;
	int64_t expires;   /* mono ms */
	int64_t opened;    /* for dropping the oldest */
	int used;
};

struct sessions {
	struct session v[SESSION_MAX];
	int64_t seq;
};

struct sessions *
sessions_new(void)
{
	return calloc(1, sizeof(struct sessions));
}

void
sessions_free(struct sessions *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, sizeof(*s));
	free(s);
}

int
sessions_open(struct sessions *s, char *id, const struct orch_principal *who, int64_t now)
{
	unsigned char rnd[SESSION_ID_LEN / 2];
	struct session *slot = NULL;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return orch_err_sys(ORCH_ERROR, "getrandom");
	/* A free or expired slot, else the oldest session's. */
	for (size_t i = 0; i < SESSION_MAX; i++) {
		struct session *t = &s->v[i];

		if (!t->used || t->expires <= now) {
			slot = t;
			break;
		}
		if (slot == NULL || t->opened < slot->opened)
			slot = t;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(slot->id + 2 * i, 3, "%02x", rnd[i]);
	explicit_bzero(rnd, sizeof(rnd));
	slot->who = *who;
	slot->expires = now + SESSION_TTL_MS;
	slot->opened = ++s->seq;
	slot->used = 1;
	memcpy(id, slot->id, SESSION_ID_LEN + 1);
	return 0;
}

static struct session *
find(struct sessions *s, const char *id)
{
	struct session *hit = NULL;

	if (s == NULL || strlen(id) != SESSION_ID_LEN)
		return NULL;
	/* An id is a secret: compared in constant time, every slot. */
	for (size_t i = 0; i < SESSION_MAX; i++)
		if (s->v[i].used && creds_equal(id, s->v[i].id))
			hit = &s->v[i];
	return hit;
}

const struct orch_principal *
sessions_find(struct sessions *s, const char *id, int64_t now)
{
	struct session *t = find(s, id);

	if (t == NULL)
		return NULL;
	if (t->expires <= now) {
		memset(t, 0, sizeof(*t));
		return NULL;
	}
	return &t->who;
}

void
sessions_close(struct sessions *s, const char *id)
{
	struct session *t = find(s, id);

	if (t != NULL)
		memset(t, 0, sizeof(*t));
}

int
sessions_cookie_id(char *id, const char *cookie)
{
	const char *p = cookie;
	size_t klen = strlen(SESSION_COOKIE), n;

	/* "a=1; orch_session=HEX; b=2" */
	while (p != NULL && *p) {
		p += strspn(p, " ;");
		if (strncmp(p, SESSION_COOKIE, klen) == 0 && p[klen] == '=') {
			p += klen + 1;
			n = strcspn(p, "; ");
			if (n != SESSION_ID_LEN)
				return 0;
			memcpy(id, p, n);
			id[n] = '\0';
			return 1;
		}
		p = strchr(p, ';');
	}
	return 0;
}
