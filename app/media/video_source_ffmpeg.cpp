// Video files and network streams decoded with FFmpeg (libavformat + libavcodec, frame-threaded) and converted to
// RGB8 at the source size with libswscale. Every libav failure becomes Error("<file>: <problem> (<reason>)").
#include <algorithm>
#include <memory>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/dict.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include <fmt/format.h>

#include "distrvit/error.h"
#include "frame_source.h"

namespace distrvit::media {
namespace {

constexpr double kFallbackVideoFps = 25.0;
constexpr const char* kNetworkTimeoutMicroseconds = "10000000";  // a stream silent this long is an error
// A live stream joined between key frames, or one that lost packets, has packets the decoder cannot use yet: up
// to this many in a row are skipped before the stream counts as undecodable.
constexpr int kMaxUndecodableLivePackets = 1000;

struct FormatContextCloser {
  void operator()(AVFormatContext* context) const { avformat_close_input(&context); }
};
struct CodecContextFreer {
  void operator()(AVCodecContext* context) const { avcodec_free_context(&context); }
};
struct FrameFreer {
  void operator()(AVFrame* frame) const { av_frame_free(&frame); }
};
struct PacketFreer {
  void operator()(AVPacket* packet) const { av_packet_free(&packet); }
};
struct ScalerFreer {
  void operator()(SwsContext* scaler) const { sws_freeContext(scaler); }
};
using FormatContextPtr = std::unique_ptr<AVFormatContext, FormatContextCloser>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextFreer>;
using FramePtr = std::unique_ptr<AVFrame, FrameFreer>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFreer>;
using ScalerPtr = std::unique_ptr<SwsContext, ScalerFreer>;

std::string av_error_text(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  if (av_strerror(code, text, sizeof(text)) < 0) return "FFmpeg error " + std::to_string(code);
  return text;
}

// FFmpeg prints its own warnings on stderr for damaged files; ours say it in one line.
void silence_ffmpeg_logging() {
  static const bool silenced = [] {
    av_log_set_level(AV_LOG_QUIET);
    return true;
  }();
  (void)silenced;
}

// Options for avformat_open_input: I/O timeouts for network streams, so that a camera that goes away ends
// with an error instead of a read that never returns.
AVDictionary* open_options(const std::string& path) {
  AVDictionary* options = nullptr;
  if (!is_stream_url(path)) return options;
  static const bool network_ready = avformat_network_init() == 0;
  (void)network_ready;
  av_dict_set(&options, "rw_timeout", kNetworkTimeoutMicroseconds, 0);
  av_dict_set(&options, "timeout", kNetworkTimeoutMicroseconds, 0);
  return options;
}

bool is_full_range(const AVFrame& frame) {
  switch (frame.format) {
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUVJ444P:
    case AV_PIX_FMT_YUVJ440P:
    case AV_PIX_FMT_YUVJ411P: return true;
    default: return frame.color_range == AVCOL_RANGE_JPEG;
  }
}

// Converts decoded frames to packed RGB8 of the same size, remaking the swscale context when the size, pixel
// format or colour description of the stream changes.
class RgbConverter {
 public:
  void convert(const AVFrame& frame, ImageU8& out, const std::string& path) {
    const bool full_range = is_full_range(frame);
    if (!scaler_ || frame.width != width_ || frame.height != height_ || frame.format != pixel_format_ ||
        frame.colorspace != colorspace_ || full_range != full_range_) {
      scaler_.reset(sws_getContext(frame.width, frame.height, static_cast<AVPixelFormat>(frame.format), frame.width,
                                   frame.height, AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr));
      if (!scaler_) {
        const char* format_name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(frame.format));
        fail(path, "cannot convert {}x{} {} frames to RGB", frame.width, frame.height,
             format_name ? format_name : "unknown-format");
      }
      // YUV -> RGB coefficients of the stream (BT.601 when it does not say) and its range (TV or full).
      sws_setColorspaceDetails(scaler_.get(), sws_getCoefficients(frame.colorspace), full_range ? 1 : 0,
                               sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
      width_ = frame.width;
      height_ = frame.height;
      pixel_format_ = frame.format;
      colorspace_ = frame.colorspace;
      full_range_ = full_range;
    }
    out.width = frame.width;
    out.height = frame.height;
    out.rgb.resize(static_cast<size_t>(frame.width) * frame.height * 3);
    uint8_t* const planes[4] = {out.rgb.data(), nullptr, nullptr, nullptr};
    const int strides[4] = {frame.width * 3, 0, 0, 0};
    if (sws_scale(scaler_.get(), frame.data, frame.linesize, 0, frame.height, planes, strides) != frame.height) {
      fail(path, "converting a {}x{} frame to RGB failed", frame.width, frame.height);
    }
  }

 private:
  ScalerPtr scaler_;
  int width_ = 0, height_ = 0, pixel_format_ = AV_PIX_FMT_NONE;
  AVColorSpace colorspace_ = AVCOL_SPC_UNSPECIFIED;
  bool full_range_ = false;
};

class FfmpegVideoSource : public FrameSource {
 public:
  FfmpegVideoSource(const std::string& path, CancelFlag cancel) : path_(path), cancel_(std::move(cancel)) {
    AVFormatContext* opened = avformat_alloc_context();
    if (!opened) fail(path, "out of memory for the demuxer");
    opened->interrupt_callback = {&FfmpegVideoSource::cancelled, this};
    AVDictionary* options = open_options(path);
    int rc = avformat_open_input(&opened, path.c_str(), nullptr, &options);
    av_dict_free(&options);
    if (rc < 0) fail(path, "cannot open as a video ({})", av_error_text(rc));
    format_.reset(opened);
    rc = avformat_find_stream_info(format_.get(), nullptr);
    if (rc < 0) fail(path, "cannot open as a video: its streams cannot be read ({})", av_error_text(rc));

    const AVCodec* decoder = nullptr;
    rc = av_find_best_stream(format_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
    if (rc == AVERROR_STREAM_NOT_FOUND) fail(path, "has no video stream");
    if (rc < 0) fail(path, "no decoder for its {} video ({})", codec_name(), av_error_text(rc));
    stream_index_ = rc;
    stream_ = format_->streams[stream_index_];

    codec_.reset(avcodec_alloc_context3(decoder));
    if (!codec_) fail(path, "out of memory for the {} decoder", decoder->name);
    rc = avcodec_parameters_to_context(codec_.get(), stream_->codecpar);
    if (rc < 0) fail(path, "bad {} stream parameters ({})", decoder->name, av_error_text(rc));
    codec_->thread_count = 0;  // one decoding thread per core
    codec_->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    rc = avcodec_open2(codec_.get(), decoder, nullptr);
    if (rc < 0) fail(path, "cannot start the {} decoder ({})", decoder->name, av_error_text(rc));

    packet_.reset(av_packet_alloc());
    decoded_.reset(av_frame_alloc());
    if (!packet_ || !decoded_) fail(path, "out of memory for decoding");

    const AVRational rate = av_guess_frame_rate(format_.get(), stream_, nullptr);
    const double fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0.0;
    frame_rate_ = fps > 0 && fps < 1000 ? fps : kFallbackVideoFps;
    frame_count_ = stream_->nb_frames > 0 ? stream_->nb_frames : -1;
    live_ = is_live_stream(path);
    indexed_end_ = indexed_end(*stream_);
    file_size_ = format_->pb ? avio_size(format_->pb) : -1;

    pending_started_ = Clock::now();
    if (!decode_next()) fail(path, "no frame could be decoded (empty or corrupt video)");
    pending_ = true;
  }

  bool read(CapturedFrame& frame) override {
    Clock::time_point started = Clock::now();
    if (pending_) {
      pending_ = false;
      started = pending_started_;
    } else if (!decode_next()) {
      return false;
    }
    converter_.convert(*decoded_, frame.image, path_);
    av_frame_unref(decoded_.get());
    frame.index = next_index_++;
    frame.name.clear();
    frame.captured = started;  // when decoding began: end-to-end latency includes decoding
    return true;
  }

  bool rewind() override {
    const int64_t start = stream_->start_time != AV_NOPTS_VALUE ? stream_->start_time : 0;
    if (av_seek_frame(format_.get(), stream_index_, start, AVSEEK_FLAG_BACKWARD) < 0 &&
        avformat_seek_file(format_.get(), -1, INT64_MIN, 0, 0, 0) < 0) {
      return false;
    }
    avcodec_flush_buffers(codec_.get());
    av_packet_unref(packet_.get());
    av_frame_unref(decoded_.get());
    packet_unsent_ = false;
    draining_ = false;
    ended_ = false;
    pending_ = false;
    read_error_ = 0;
    end_reported_ = false;
    next_index_ = 0;
    return true;
  }

  double frame_rate() const override { return live_ ? 0.0 : frame_rate_; }
  bool live() const override { return live_; }
  int64_t frame_count() const override { return live_ ? -1 : frame_count_; }
  std::string name() const override { return path_; }

 private:
  // libav's interrupt callback: blocking network I/O polls it and gives up (AVERROR_EXIT) once it returns 1.
  static int cancelled(void* self) {
    const CancelFlag& cancel = static_cast<const FfmpegVideoSource*>(self)->cancel_;
    return cancel && cancel->load() ? 1 : 0;
  }

  // A live-scheme URL, or another URL (http, ...) with neither a length nor seeking; a remote file is played
  // like a local one.
  bool is_live_stream(const std::string& path) const {
    if (!is_stream_url(path)) return false;
    if (has_live_scheme(path)) return true;
    const bool seekable = format_->pb && (format_->pb->seekable & AVIO_SEEKABLE_NORMAL);
    return !seekable && format_->duration == AV_NOPTS_VALUE;
  }

  // The byte where the demuxer's index (MP4's sample table, Matroska's cues) says the stream's data ends.
  static int64_t indexed_end(AVStream& stream) {
    int64_t end = 0;
    for (int i = 0, entries = avformat_index_get_entries_count(&stream); i < entries; ++i) {
      const AVIndexEntry* entry = avformat_index_get_entry(&stream, i);
      end = std::max(end, entry->pos + entry->size);
    }
    return end;
  }

  std::string codec_name() const {
    for (unsigned i = 0; i < format_->nb_streams; ++i) {
      if (format_->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
        return avcodec_get_name(format_->streams[i]->codecpar->codec_id);
      }
    }
    return "unknown";
  }

  // Decodes the next frame of the video stream into decoded_; false at the end. A damaged packet throws (the
  // next call goes on after it), except in a live stream, which skips it; a file that cannot be read further
  // ends, with one Error once the decoder is empty.
  bool decode_next() {
    while (!ended_) {
      int rc = avcodec_receive_frame(codec_.get(), decoded_.get());
      if (rc == 0) {
        undecodable_in_a_row_ = 0;
        return true;
      }
      if (rc == AVERROR_EOF) {
        ended_ = true;
        break;
      }
      if (rc != AVERROR(EAGAIN)) {
        if (skip_in_live_stream()) continue;
        fail(path_, "cannot decode frame {} ({})", next_index_, av_error_text(rc));
      }
      if (draining_) {  // a drained decoder should say EOF; nothing more can come either way
        ended_ = true;
        break;
      }
      if (!packet_unsent_ && !next_packet()) {
        avcodec_send_packet(codec_.get(), nullptr);  // drain: the frames the decoder still holds come out
        draining_ = true;
        continue;
      }
      rc = avcodec_send_packet(codec_.get(), packet_.get());
      packet_unsent_ = rc == AVERROR(EAGAIN);  // the decoder is full: receive first, then send this packet again
      if (!packet_unsent_) av_packet_unref(packet_.get());
      if (rc < 0 && rc != AVERROR(EAGAIN) && !skip_in_live_stream())
        fail(path_, "cannot decode frame {} ({})", next_index_, av_error_text(rc));
    }
    if (!end_reported_) {  // say once per pass why the file ended early, if it did
      end_reported_ = true;
      if (read_error_ != 0) {
        fail(path_, "{} after {} frames ({})", live_ ? "the stream broke off" : "truncated or unreadable", next_index_,
             av_error_text(read_error_));
      }
      if (file_size_ > 0 && indexed_end_ > file_size_) {  // the demuxer met the cut as a plain end of file
        fail(path_, "truncated: the file ends at byte {} but its index goes on to byte {} ({} frames decoded)",
             file_size_, indexed_end_, next_index_);
      }
    }
    return false;
  }

  // A decoding error of a live stream: true while it may still be a stream joined between key frames.
  bool skip_in_live_stream() { return live_ && ++undecodable_in_a_row_ < kMaxUndecodableLivePackets; }

  // Reads the next packet of the video stream into packet_; false at the end of the file or when it cannot be
  // read further (the reason is kept in read_error_).
  bool next_packet() {
    while (true) {
      const int rc = av_read_frame(format_.get(), packet_.get());
      if (rc == AVERROR_EOF) return false;
      if (rc < 0) {
        read_error_ = rc;
        return false;
      }
      if (packet_->stream_index == stream_index_) return true;
      av_packet_unref(packet_.get());
    }
  }

  std::string path_;
  CancelFlag cancel_;
  FormatContextPtr format_;
  CodecContextPtr codec_;
  PacketPtr packet_;
  FramePtr decoded_;
  RgbConverter converter_;
  AVStream* stream_ = nullptr;  // owned by format_
  int stream_index_ = -1;
  double frame_rate_ = kFallbackVideoFps;
  int64_t frame_count_ = -1;
  bool live_ = false;           // a network stream that comes at its own pace (is_live_stream)
  int undecodable_in_a_row_ = 0;  // live streams: decoding errors since the last frame
  bool pending_ = false;        // decoded_ holds the frame decoded while opening, not yet handed out
  Clock::time_point pending_started_;
  bool packet_unsent_ = false;  // packet_ holds a packet the decoder refused for now
  bool draining_ = false;       // the file is read to its end; the decoder gives out what it still holds
  bool ended_ = false;
  int read_error_ = 0;          // why the file could not be read further, reported once the decoder is empty
  bool end_reported_ = false;
  int64_t indexed_end_ = 0;     // see indexed_end()
  int64_t file_size_ = -1;
  int64_t next_index_ = 0;
};

}  // namespace

std::string video_backend() {
  const unsigned version = avcodec_version();  // of the library loaded at run time, not of the headers
  return fmt::format("FFmpeg {} (libavcodec {}.{}.{})", av_version_info(), AV_VERSION_MAJOR(version),
                     AV_VERSION_MINOR(version), AV_VERSION_MICRO(version));
}

std::unique_ptr<FrameSource> open_video(const std::string& path, CancelFlag cancel) {
  silence_ffmpeg_logging();
  check_video_path(path);
  return std::make_unique<FfmpegVideoSource>(path, std::move(cancel));
}

}  // namespace distrvit::media
