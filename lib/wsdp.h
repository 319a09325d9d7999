/* wsdp.h - WebRTC SDP (RFC 8829 JSEP, RFC 8843 BUNDLE, RFC 8839 ICE): the
 * offer parser and the answer builder WHIP (RFC 9725) and WHEP need. A codec
 * over text, no I/O, no clock, no randomness. lib/sdp.h is the other SDP:
 * plain-RTP files for FFmpeg.
 *
 * rv_wsdp_parse reads an offer (CRLF or LF lines) into a struct the caller
 * reads directly and frees with rv_wsdp_offer_free. rv_wsdp_answer writes the
 * answer of an ICE-lite, DTLS-client endpoint (rvserver) to such an offer:
 * the same m= lines in the same order, each accepted with one codec or
 * rejected with port 0 (data channels, unknown kinds, other transports, no
 * common codec), and says per m= line what was chosen.
 *
 * Caps (past one: RV_ETOOBIG, with the cap named in ERR): the SDP at most
 * RV_WSDP_MAX_SDP bytes, a line RV_WSDP_MAX_LINE, RV_WSDP_MAX_MEDIA m= lines,
 * RV_WSDP_MAX_CODECS payload types per m= line, RV_WSDP_MAX_EXTMAP extmaps and
 * RV_WSDP_MAX_SSRCS ssrcs per m= line; every text field's size below (an
 * fmtp of 256 bytes or more, a uri of 128 or more ...).
 * Malformed input: RV_EPROTO with a reason fit for an HTTP 400 body in ERR:
 * "line 12: rtpmap: bad clock rate", "no ice-ufrag for mid 1", "no
 * fingerprint", "not sha-256: the fingerprint is sha-1", "no BUNDLE group"...
 * ERR (ERRLEN bytes, may be 0) is always NUL-terminated when ERRLEN > 0. */
#ifndef RV_WSDP_H
#define RV_WSDP_H

#include <stddef.h>
#include <stdint.h>

#define RV_WSDP_MAX_SDP 16384
#define RV_WSDP_MAX_LINE 1024
#define RV_WSDP_MAX_MEDIA 16
#define RV_WSDP_MAX_CODECS 64          /* Chromium 156 recvonly video: 34 */
#define RV_WSDP_MAX_EXTMAP 24
#define RV_WSDP_MAX_SSRCS 8

/* rtcp-fb flags of a codec (a=rtcp-fb:PT or a=rtcp-fb:*). */
enum {
	RV_WSDP_FB_NACK = 1,         /* nack */
	RV_WSDP_FB_PLI = 2,          /* nack pli */
	RV_WSDP_FB_FIR = 4,          /* ccm fir */
	RV_WSDP_FB_REMB = 8,         /* goog-remb */
	RV_WSDP_FB_TWCC = 16,        /* transport-cc */
};

enum rv_wsdp_dir { RV_WSDP_SENDRECV, RV_WSDP_SENDONLY, RV_WSDP_RECVONLY, RV_WSDP_INACTIVE };
enum rv_wsdp_setup { RV_WSDP_SETUP_NONE, RV_WSDP_ACTPASS, RV_WSDP_ACTIVE, RV_WSDP_PASSIVE };

struct rv_wsdp_codec {
	int pt;                      /* 0..127, in the m= line's order */
	char name[16];               /* a=rtpmap's ("VP8", "opus", "rtx"); PCMU/PCMA for
					static 0/8 without one; "" unknown */
	int clock;                   /* 90000, 48000; 0 unknown */
	int channels;                /* 1 when not given */
	char fmtp[256];              /* a=fmtp's parameters, "" without one */
	unsigned fb;                 /* RV_WSDP_FB_* */
	int apt;                     /* rtx/red...: fmtp apt=, else -1 */
};

struct rv_wsdp_extmap {
	int id;                      /* 1..255 */
	char uri[128];
};

struct rv_wsdp_ssrc {
	uint32_t ssrc;
	char cname[64];              /* "" when not given */
	char msid[128];              /* "stream track", "" when not given */
};

struct rv_wsdp_media {
	char kind[16];               /* "audio", "video", "application", ... */
	char mid[32];                /* a=mid ("" when absent: only for a port-0 line) */
	int port;                    /* the m= port; 0 with bundle_only is still offered */
	int rejected;                /* port 0 and not a=bundle-only */
	int bundle_only;             /* a=bundle-only (Firefox: port 0, bundled) */
	char proto[32];              /* "UDP/TLS/RTP/SAVPF" */
	char fmt[32];                /* its first format: "111", "webrtc-datachannel" */
	enum rv_wsdp_dir dir;        /* its own, else the session's, else sendrecv */
	char ufrag[64], pwd[128];    /* its own, else the session's */
	char fingerprint[96];        /* sha-256, "AB:CD:..." (32 upper-case pairs) */
	enum rv_wsdp_setup setup;    /* its own, else the session's */
	int rtcp_mux;
	int ncodecs;
	struct rv_wsdp_codec codecs[RV_WSDP_MAX_CODECS];
	int nextmap;
	struct rv_wsdp_extmap extmap[RV_WSDP_MAX_EXTMAP];
	int nssrcs;
	struct rv_wsdp_ssrc ssrcs[RV_WSDP_MAX_SSRCS];
	uint32_t fid[2];             /* the first a=ssrc-group:FID: media rtx; 0 0 without */
	char msid[128];              /* a=msid, "" without */
	int has_rid, has_simulcast;  /* a=rid, a=simulcast or a=ssrc-group:SIM seen */
	int ncandidates;             /* a=candidate lines */
	int end_of_candidates;
};

struct rv_wsdp_offer {
	int nmedia;
	struct rv_wsdp_media media[RV_WSDP_MAX_MEDIA];
	int nbundle;                 /* a=group:BUNDLE's mids, in order */
	char bundle[RV_WSDP_MAX_MEDIA][32];
	int ice_lite;                /* a=ice-lite at session level */
	int ncandidates;             /* in all m= lines */
	char ufrag[64], pwd[128];    /* the session-level ones, "" without */
};

/* rv_wsdp_parse - parse the offer SDP[0..LEN) into *OUT (the caller frees it
 * with rv_wsdp_offer_free). Returns 0; RV_EPROTO (malformed, or missing what
 * WebRTC needs: BUNDLE, a mid per m= line, ice-ufrag/pwd, a sha-256
 * fingerprint for each offered m= line); RV_ETOOBIG past a cap; -ENOMEM.
 * *OUT is NULL on failure. Unknown lines and attributes are skipped. */
int rv_wsdp_parse(struct rv_wsdp_offer **out, const char *sdp, size_t len,
		  char *err, size_t errlen);
void rv_wsdp_offer_free(struct rv_wsdp_offer *o);
/* rv_wsdp_parse_frag - a WHIP/WHEP PATCH body (application/trickle-ice-sdpfrag,
 * RFC 8840): the same lines without v=, nothing required. Its session-level
 * ice-ufrag/pwd (an ICE restart) end up in each m= line; an m= line's
 * ncandidates and end_of_candidates count what was trickled. A fragment
 * without m= lines has nmedia 0 and its credentials in the offer's own
 * ufrag and pwd. Errors and caps as rv_wsdp_parse. */
int rv_wsdp_parse_frag(struct rv_wsdp_offer **out, const char *frag, size_t len,
		       char *err, size_t errlen);

/* rv_wsdp_codec_find - the codec of M with payload type PT, or NULL. */
const struct rv_wsdp_codec *rv_wsdp_codec_find(const struct rv_wsdp_media *m, int pt);
/* rv_wsdp_extmap_id - M's extmap id of URI, or 0. */
int rv_wsdp_extmap_id(const struct rv_wsdp_media *m, const char *uri);

#define RV_WSDP_EXT_MID "urn:ietf:params:rtp-hdrext:sdes:mid"

enum rv_wsdp_role {
	RV_WSDP_WHIP,                /* we receive: answer recvonly */
	RV_WSDP_WHEP,                /* we send: answer sendonly */
};

struct rv_wsdp_answer_conf {
	enum rv_wsdp_role role;
	const char *ufrag, *pwd;     /* ours: 4-255 and 22-255 ice-chars [A-Za-z0-9+/] */
	const char *fingerprint;     /* ours, sha-256 "AB:CD:..." */
	const char *cand_ip[4];      /* host candidates: IPv4 or IPv6 literals */
	int ncand;
	uint16_t port;
	/* ICE over TCP (RFC 6544): after each UDP candidate a passive TCP one
	 * on TCP_PORT, at RV_WSDP_TCP_PRIORITY (0: none). NO_UDP (test only:
	 * a network without UDP) leaves out the UDP ones; it needs TCP_PORT. */
	uint16_t tcp_port;
	int no_udp;
	/* Video codecs in preference order, comma-separated: "VP8", "H264", or
	 * "H264/4d00" (one H.264 profile: profile_idc and profile-iop, hex).
	 * WHIP: what we accept (plain "H264": 42e0, then 4200, then 4d00, each
	 * packetization-mode=1); WHEP: what the source is ("H264" means 42e0).
	 * NULL: "VP8,H264"; "": no video (video m= lines rejected). */
	const char *video_codecs;
	/* Audio codecs likewise from "opus", "PCMU", "PCMA". NULL: WHIP
	 * "opus,PCMU,PCMA", WHEP "opus"; "": no audio. */
	const char *audio_codecs;
	int opus_stereo;             /* WHEP: the source's opus is stereo (adds
					stereo=1;sprop-stereo=1) */
	uint32_t send_ssrc_audio, send_ssrc_video; /* WHEP only (0: no a=ssrc) */
	const char *cname, *msid_stream; /* WHEP only; NULL: "rvserver", "rv" */
	uint64_t session_id;         /* o= line's; 0: derived from ufrag */
};

/* The candidates' priorities (RFC 8445 5.1.2.1, RFC 6544 4.2): host (type
 * preference 126), component 1; UDP with local preference 65535, TCP
 * passive with 2^13 * 4 (direction) + 8191, below every UDP one. */
#define RV_WSDP_UDP_PRIORITY 2130706431u
#define RV_WSDP_TCP_PRIORITY (126u << 24 | (4u << 13 | 8191u) << 8 | 255u)

struct rv_wsdp_choice {              /* per offered m= line, in order */
	int accepted;
	char kind[8];                /* "audio", "video", "" for others */
	char mid[32];
	int pt;                      /* the offer's PT of the chosen codec; -1 */
	char codec[16];              /* "VP8", "H264", "opus", "PCMU", "PCMA" */
	int clock, channels;
	char fmtp[256];              /* as written in the answer */
	uint32_t remote_ssrc;        /* the offerer's media ssrc if signalled, else 0
					(0 too when it offered simulcast: which layer
					it sends once declined is its choice) */
	int rtx_pt;                  /* the offer's rtx PT for pt (not in the answer: its
					packets may be dropped); -1 none */
	int mid_ext_id;              /* sdes:mid extmap id echoed, 0 none */
	unsigned fb;                 /* rtcp-fb written (RV_WSDP_FB_*) */
	char why[128];               /* !accepted: the reason ("data channels are not
					supported", "no codec in common: ...") */
};

/* rv_wsdp_answer - write the answer to O as conf C says into OUT (CAP
 * bytes, NUL-terminated), and fill CHOICES[0..min(NCHOICES, o->nmedia)).
 * Returns the answer's length; RV_ETOOBIG when CAP is too small; RV_EPROTO
 * with ERR when the offer cannot be answered: no m= line accepted ("no
 * codec in common: the offer has VP9, AV1; we take VP8, H264"), WHEP and the
 * source's codec not offered ("stream is H264, the browser offers VP8"),
 * the offer's setup is active, an offered m= line outside the BUNDLE group;
 * -EINVAL for a bad conf (ufrag, pwd, fingerprint, candidate IP). */
int rv_wsdp_answer(const struct rv_wsdp_offer *o, const struct rv_wsdp_answer_conf *c,
		   char *out, size_t cap, struct rv_wsdp_choice *choices,
		   size_t nchoices, char *err, size_t errlen);

#endif
