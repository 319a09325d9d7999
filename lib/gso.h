/* gso.h - UDP segmentation offload (Linux UDP_SEGMENT, 4.18+): one sendmsg
 * carries several datagrams of one size, the last one possibly shorter, and
 * the kernel cuts them apart, so a burst of packets costs one trip through
 * the stack instead of one each. On loopback a receiving socket with
 * UDP_GRO set gets such a burst as one datagram, as it would get a burst
 * the network card coalesced (rv_gro_*). */
#ifndef RV_GSO_H
#define RV_GSO_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>
#include <sys/uio.h>

#define RV_GSO_MAX_SEGS 64          /* the kernel's limit (UDP_MAX_SEGMENTS) */
#define RV_GSO_MAX_BYTES 60000      /* under 64 KiB with the headers */

/* Room for the control message of one GSO send or GRO read. */
union rv_gso_ctl {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};

/* rv_gso_run - how many of the N packets from V on can go in one send:
 * those of V[0]'s length, then at most one shorter (which ends the run). */
size_t rv_gso_run(const struct iovec *v, size_t n);
/* rv_gso_set - make M a GSO send of SEG-byte datagrams (its iovecs are the
 * payloads, in order). */
void rv_gso_set(struct msghdr *m, union rv_gso_ctl *ctl, size_t seg);
/* rv_gso_unsupported - is ERR (an errno from sendmsg) the kernel or device
 * refusing GSO? Then send the datagrams one by one from then on. */
int rv_gso_unsupported(int err);

/* rv_gro_enable - ask for coalesced reads on FD; 0, or -errno. */
int rv_gro_enable(int fd);
/* rv_gro_read_setup - make M able to receive the segment size. */
void rv_gro_read_setup(struct msghdr *m, union rv_gso_ctl *ctl);
/* rv_gro_segment - the size of each datagram in what M read (LEN bytes):
 * LEN when it is one datagram. */
size_t rv_gro_segment(const struct msghdr *m, size_t len);

#endif
