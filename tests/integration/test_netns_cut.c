/*
 * test_netns_cut.c - the one-way cuts of tests/support/netns.h hold for a
 * connection that was open, with an answer in flight, when the cut came
 * (issue 11). This is the shape of a slave's keep-alive heartbeat when the
 * controller answers slowly (under valgrind): request sent, answer not yet
 * back, cut. Before netns.c switched connection tracking on at a
 * namespace's creation, the cut's own rules switched it on, conntrack met
 * the connection mid-stream at the answer and recorded the answering side
 * as its originator, and the cut let the connection through for good:
 * test_fault_partition's "slave -> controller" node never went Lost.
 *
 * For each one-way cut: a connection opened in the direction the cut
 * drops carries one request and answer (tracked from its SYN), a second
 * request reaches the server, the cut comes, and then neither the held
 * answer nor a third request may pass. A connection opened the other way
 * keeps working throughout. Root only (namespaces, nftables).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "daemon.h"
#include "netns.h"

#define PORT 7100
#define PASS_WAIT 5000  /* for what must arrive */
#define DROP_WAIT 1500  /* for what must not */

static struct netns_net *net;

/* A socket of namespace ns: listening on addr:PORT (listen true) or
 * connected to addr:PORT. The calling thread goes back to the hub. */
static int
sock_in(const char *ns, const char *addr, bool listening)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	int fd = -1, one = 1;

	inet_pton(AF_INET, addr, &sin.sin_addr);
	if (netns_enter(ns) < 0)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && listening) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 4) < 0) {
			close(fd);
			fd = -1;
		}
	} else if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		fd = -1;
	}
	if (netns_enter(net->name[0]) < 0)
		abort();
	return fd;
}

/* Whether the message msg arrives on fd within ms (times the time
 * factor); it is read. */
static bool
arrives(int fd, const char *msg, int64_t ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[64];
	ssize_t n;

	if (poll(&p, 1, (int)(ms * test_time_factor())) != 1)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strcmp(buf, msg) == 0;
}

static bool
say(int fd, const char *msg)
{
	return write(fd, msg, strlen(msg)) == (ssize_t)strlen(msg);
}

/*
 * A connection from namespace `from` to a server in namespace `to` (one
 * of them the hub, the other namespace 1), cut with how, which drops
 * connections opened that way.
 */
static void
held_answer_is_cut(const char *from, const char *to, const char *to_addr, enum netns_cut how)
{
	int lfd, cfd, sfd;

	REQUIRE((lfd = sock_in(to, to_addr, true)) >= 0);
	REQUIRE((cfd = sock_in(from, to_addr, false)) >= 0);
	REQUIRE((sfd = accept(lfd, NULL, NULL)) >= 0);
	CHECK(say(cfd, "req1") && arrives(sfd, "req1", PASS_WAIT));
	CHECK(say(sfd, "ans1") && arrives(cfd, "ans1", PASS_WAIT));
	/* The request is in; its answer is held until after the cut. */
	CHECK(say(cfd, "req2") && arrives(sfd, "req2", PASS_WAIT));
	REQUIRE(netns_cut(net, 1, how) == 0);
	CHECK(say(sfd, "ans2"));
	CHECK(!arrives(cfd, "ans2", DROP_WAIT));
	CHECK(say(cfd, "req3"));
	CHECK(!arrives(sfd, "req3", DROP_WAIT));
	REQUIRE(netns_heal(net, 1) == 0);
	close(sfd);
	close(cfd);
	close(lfd);
}

/* A connection opened the other way passes a one-way cut both ways. */
static void
other_way_passes(const char *from, const char *to, const char *to_addr, enum netns_cut how)
{
	int lfd, cfd, sfd;

	REQUIRE(netns_cut(net, 1, how) == 0);
	REQUIRE((lfd = sock_in(to, to_addr, true)) >= 0);
	REQUIRE((cfd = sock_in(from, to_addr, false)) >= 0);
	REQUIRE((sfd = accept(lfd, NULL, NULL)) >= 0);
	CHECK(say(cfd, "req") && arrives(sfd, "req", PASS_WAIT));
	CHECK(say(sfd, "ans") && arrives(cfd, "ans", PASS_WAIT));
	REQUIRE(netns_heal(net, 1) == 0);
	close(sfd);
	close(cfd);
	close(lfd);
}

TEST(netns_cut__setup)
{
	if (getuid() != 0)
		printf("# test_netns_cut needs root: network namespaces and nftables\n");
	REQUIRE(getuid() == 0);
	REQUIRE(netns_create(&net, 1) == 0);
	REQUIRE(netns_enter(net->name[0]) == 0);
}

/* Namespace 1 to the hub: a slave's heartbeat to the controller. */
TEST(netns_cut__to_hub_cuts_a_connection_with_an_answer_in_flight)
{
	REQUIRE(net != NULL);
	held_answer_is_cut(net->name[1], net->name[0], net->addr[0], NETNS_CUT_TO_HUB);
	other_way_passes(net->name[0], net->name[1], net->addr[1], NETNS_CUT_TO_HUB);
}

/* The hub to namespace 1: the controller's command to a slave. */
TEST(netns_cut__from_hub_cuts_a_connection_with_an_answer_in_flight)
{
	REQUIRE(net != NULL);
	held_answer_is_cut(net->name[0], net->name[1], net->addr[1], NETNS_CUT_FROM_HUB);
	other_way_passes(net->name[1], net->name[0], net->addr[0], NETNS_CUT_FROM_HUB);
}

TEST(netns_cut__finish)
{
	netns_destroy(net);
	net = NULL;
}

CHECK_MAIN(netns_cut__setup, netns_cut__to_hub_cuts_a_connection_with_an_answer_in_flight,
    netns_cut__from_hub_cuts_a_connection_with_an_answer_in_flight, netns_cut__finish)
