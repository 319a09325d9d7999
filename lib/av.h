/* av.h - FFmpeg for lib/media.c and lib/sink.c, loaded when media is
 * first used rather than linked: with its dependencies FFmpeg is some 200
 * shared libraries and 40 MB, which rvsend and rvrecv should not pay for
 * commands, streams and files. AV(f) calls FFmpeg's f through the table. */
#ifndef RV_AV_H
#define RV_AV_H

#include <stddef.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

#define RV_AV_FUNCS(X) \
	X(avdevice_register_all) X(av_log_set_level) X(av_find_input_format) \
	X(avformat_open_input) X(avformat_find_stream_info) X(av_find_best_stream) \
	X(av_guess_frame_rate) X(av_packet_alloc) X(av_frame_alloc) X(avcodec_get_name) \
	X(av_bsf_get_by_name) X(av_bsf_alloc) X(avcodec_parameters_copy) X(av_bsf_init) \
	X(avcodec_alloc_context3) X(avcodec_parameters_to_context) X(avcodec_open2) \
	X(avcodec_find_encoder_by_name) X(av_opt_set) X(av_opt_set_int) X(av_frame_get_buffer) \
	X(av_strerror) X(avcodec_receive_packet) X(avcodec_receive_frame) X(sws_getContext) \
	X(av_frame_make_writable) X(sws_scale) X(av_rescale_q) X(av_frame_unref) \
	X(avcodec_send_frame) X(av_bsf_receive_packet) X(av_packet_unref) X(av_read_frame) \
	X(avcodec_send_packet) X(av_bsf_send_packet) X(av_packet_ref) X(sws_freeContext) \
	X(av_frame_free) X(av_packet_free) X(av_bsf_free) X(avcodec_free_context) \
	X(avformat_close_input) X(avformat_alloc_output_context2) X(avformat_new_stream) \
	X(av_mallocz) X(av_dict_set) X(avio_open) X(avformat_write_header) X(av_dict_free) \
	X(av_new_packet) X(av_interleaved_write_frame) X(av_write_trailer) X(avio_closep) \
	X(avformat_free_context) X(avformat_alloc_context) \
	/* audio */ \
	X(av_channel_layout_default) X(av_channel_layout_uninit) X(swr_alloc_set_opts2) \
	X(swr_init) X(swr_convert) X(swr_free) X(swr_get_delay) X(av_audio_fifo_alloc) \
	X(av_audio_fifo_write) X(av_audio_fifo_read) X(av_audio_fifo_size) X(av_audio_fifo_free) \
	X(av_samples_alloc_array_and_samples) X(av_freep) X(av_parser_init) X(av_parser_parse2) \
	X(av_parser_close) X(avcodec_find_decoder)

#define RV_AV_DECLARE(f) __typeof__(&f) f;
struct rv_av { RV_AV_FUNCS(RV_AV_DECLARE) };
extern struct rv_av rv_av;
#define AV(f) (*rv_av.f)

/* rv_av_load - load FFmpeg once; ERR says what is missing. 0 or -ENOENT. */
int rv_av_load(char *err, size_t errlen);
/* rv_av_err - "WHAT: FFmpeg's message for RC" into ERR. */
void rv_av_err(int rc, const char *what, char *err, size_t errlen);

#endif
