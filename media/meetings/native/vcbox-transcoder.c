/*
 * vcbox-transcoder — one video stream re-encoded for receivers that cannot take it as sent
 * (media/meetings/video-transcoder.ts drives it; one process per transcoder). A fixed
 * GStreamer pipeline built from the arguments:
 *
 *   udpsrc ! rtpjitterbuffer ! depay [! h264parse] ! decoder ! videoconvert ! videoscale ! caps(size)
 *          ! x264enc|vp8enc [! caps(profile, level)] ! pay ! udpsink 127.0.0.1:PORT
 *
 * Arguments: IN-CODEC IN-PT OUT-CODEC OUT-PT SSRC PORT MAX-W MAX-H FPS KBPS GOP MODE
 *   IN-CODEC, OUT-CODEC  VP8 | H264; IN-PT, OUT-PT the payload types; SSRC of the output
 *   PORT                 loopback UDP port the encoded RTP goes to (a mediasoup PlainTransport)
 *   MAX-W MAX-H          the largest output (0: no limit): the source scaled down to fit, its
 *                        proportions kept, even sizes, never enlarged
 *   FPS                  frames per second at most (0: the source's): frames closer together
 *                        than 1/FPS are dropped as they come — none held back, none repeated
 *   KBPS                 the encoder's bitrate; GOP frames between periodic key frames
 *   MODE                 H.264 packetization mode of the output (0: each NAL unit fits a packet)
 *
 * Events on stdout (one a line, tab-separated):
 *   ports RTP-PORT RTCP-PORT  the input's loopback ports, bound first thing — before GStreamer
 *                             starts (the kernel keeps what arrives until the pipeline reads it:
 *                             nothing sent once this is said is lost)
 *   ready                     the pipeline runs
 *   input-frame               the first decoded frame
 *   output-frame              the first encoded frame
 *   decode-error              the decoder lost its footing (at most one a 200 ms): the source
 *                             should send a key frame
 *   fatal TEXT                the pipeline failed (the process exits 1)
 * Commands on stdin: `keyframe` — the next encoded frame is a key frame (a receiver's PLI/FIR or
 * SIP INFO). stdin closed, or no input for 10 s → the process ends.
 *
 * What it does not do: composition, several outputs (that is vcbox-compositor, the MCU's).
 */
#include <gio/gio.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static GstElement *pipeline, *size_caps, *encoder;
static GMainLoop *loop;
static int max_w, max_h, fps;
static GstClockTime min_gap, next_due = GST_CLOCK_TIME_NONE;
static gboolean input_seen, output_seen;
static gint64 last_input_us, last_error_us;
static GMutex out_lock;

static void emit(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void emit(const char *fmt, ...) {
  va_list args;
  g_mutex_lock(&out_lock);
  va_start(args, fmt);
  vprintf(fmt, args);
  va_end(args);
  putchar('\n');
  fflush(stdout);
  g_mutex_unlock(&out_lock);
}

static GstElement *make(const char *factory) {
  GstElement *element = gst_element_factory_make(factory, NULL);
  if (!element) {
    emit("fatal\tthe GStreamer element %s is missing (install the gstreamer1.0-plugins-* packages)", factory);
    exit(1);
  }
  return element;
}

/* A UDP socket on a free loopback port (its number in *port), or NULL. */
static GSocket *loopback_socket(int *port) {
  GSocket *socket = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  if (!socket) return NULL;
  GInetAddress *loopback = g_inet_address_new_from_string("127.0.0.1");
  GSocketAddress *address = g_inet_socket_address_new(loopback, 0);
  gboolean bound = g_socket_bind(socket, address, FALSE, NULL);
  g_object_unref(address);
  g_object_unref(loopback);
  if (!bound) {
    g_object_unref(socket);
    return NULL;
  }
  GSocketAddress *local = g_socket_get_local_address(socket, NULL);
  *port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
  g_object_unref(local);
  return socket;
}

/* The output size for a source of w×h: within max_w×max_h, proportions kept, never larger, even. */
static void fit(int w, int h, int *out_w, int *out_h) {
  double scale = 1.0;
  if (max_w > 0 && w > max_w) scale = MIN(scale, (double)max_w / w);
  if (max_h > 0 && h > max_h) scale = MIN(scale, (double)max_h / h);
  *out_w = MAX(2, (int)(w * scale + 0.5) & ~1);
  *out_h = MAX(2, (int)(h * scale + 0.5) & ~1);
}

/* Decoded frames (streaming thread): the caps carry the frame rate the encoder plans with (RTP
 * has none) and set the output size; frames over the rate are dropped; the first is told. */
static GstPadProbeReturn on_decoded(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(event) != GST_EVENT_CAPS) return GST_PAD_PROBE_OK;
    GstCaps *caps;
    gst_event_parse_caps(event, &caps);
    GstStructure *s = gst_caps_get_structure(caps, 0);
    int w = 0, h = 0, out_w, out_h;
    gst_structure_get_int(s, "width", &w);
    gst_structure_get_int(s, "height", &h);
    int par_n = 1, par_d = 1;
    gst_structure_get_fraction(s, "pixel-aspect-ratio", &par_n, &par_d);
    if (par_n > 0 && par_d > 0) w = (int)((gint64)w * par_n / par_d);
    fit(w, h, &out_w, &out_h);
    GstCaps *sized = gst_caps_new_simple("video/x-raw", "width", G_TYPE_INT, out_w, "height", G_TYPE_INT, out_h, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
    g_object_set(size_caps, "caps", sized, NULL);
    gst_caps_unref(sized);
    GstCaps *timed = gst_caps_copy(caps);
    gst_caps_set_simple(timed, "framerate", GST_TYPE_FRACTION, fps > 0 ? fps : 30, 1, NULL);
    GST_PAD_PROBE_INFO_DATA(info) = gst_event_new_caps(timed);
    gst_caps_unref(timed);
    gst_event_unref(event);
    return GST_PAD_PROBE_OK;
  }
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  GstClockTime pts = GST_BUFFER_PTS(buffer);
  if (min_gap && GST_CLOCK_TIME_IS_VALID(pts)) {
    /* On a grid of 1/FPS with half an interval of jitter allowed: a source at the cap keeps every
     * frame, a faster one keeps FPS of them; a frame late by a whole interval or more starts the
     * grid again from itself. */
    if (GST_CLOCK_TIME_IS_VALID(next_due) && pts + min_gap / 2 < next_due) return GST_PAD_PROBE_DROP;
    next_due = GST_CLOCK_TIME_IS_VALID(next_due) && pts < next_due + min_gap ? next_due + min_gap : pts + min_gap;
  }
  if (!input_seen) {
    input_seen = TRUE;
    emit("input-frame");
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn on_packet(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  last_input_us = g_get_monotonic_time(); /* read by the watchdog once a second: a torn read is harmless */
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn on_encoded(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  if (!output_seen) {
    output_seen = TRUE;
    emit("output-frame");
  }
  return GST_PAD_PROBE_OK;
}

static void force_key_unit(void) {
  GstStructure *s = gst_structure_new("GstForceKeyUnit", "running-time", GST_TYPE_CLOCK_TIME, GST_CLOCK_TIME_NONE, "all-headers", G_TYPE_BOOLEAN, TRUE,
                                      "count", G_TYPE_UINT, 0, NULL);
  GstPad *pad = gst_element_get_static_pad(encoder, "src");
  gst_pad_send_event(pad, gst_event_new_custom(GST_EVENT_CUSTOM_UPSTREAM, s));
  gst_object_unref(pad);
}

/* Decoder warnings and errors: a corrupt stream is not fatal (the next key frame heals it), the
 * source is asked for one. Anything else failing ends the process. */
static gboolean on_bus(GstBus *bus, GstMessage *message, gpointer data) {
  GstMessageType type = GST_MESSAGE_TYPE(message);
  if (type != GST_MESSAGE_ERROR && type != GST_MESSAGE_WARNING) return TRUE;
  GError *error = NULL;
  gchar *debug = NULL;
  if (type == GST_MESSAGE_ERROR) gst_message_parse_error(message, &error, &debug);
  else gst_message_parse_warning(message, &error, &debug);
  gboolean stream = error->domain == GST_STREAM_ERROR && error->code != GST_STREAM_ERROR_NOT_IMPLEMENTED && error->code != GST_STREAM_ERROR_CODEC_NOT_FOUND;
  if (type == GST_MESSAGE_ERROR && !stream) {
    gchar *detail = g_strdup_printf("%s: %s (%s)", GST_OBJECT_NAME(GST_MESSAGE_SRC(message)), error->message, debug ? debug : "");
    g_strdelimit(detail, "\t\r\n", ' ');
    emit("fatal\t%.300s", detail);
    exit(1);
  }
  gint64 now = g_get_monotonic_time();
  if (now - last_error_us > 200000) {
    last_error_us = now;
    emit("decode-error");
  }
  g_clear_error(&error);
  g_free(debug);
  return TRUE;
}

/* No input for 10 s (the source stopped or never came, or the media process died): end. */
static gboolean watchdog(gpointer data) {
  gint64 last = last_input_us;
  if (g_get_monotonic_time() - last > 10 * G_USEC_PER_SEC) {
    fprintf(stderr, "no input for 10 s\n");
    g_main_loop_quit(loop);
    return FALSE;
  }
  return TRUE;
}

static gboolean on_stdin(GIOChannel *channel, GIOCondition condition, gpointer data) {
  gchar *line = NULL;
  gsize length = 0, end = 0;
  GIOStatus status = g_io_channel_read_line(channel, &line, &length, &end, NULL);
  if (status == G_IO_STATUS_EOF || status == G_IO_STATUS_ERROR) {
    g_main_loop_quit(loop);
    return FALSE;
  }
  if (line) {
    line[end] = '\0';
    if (strcmp(line, "keyframe") == 0) force_key_unit();
    g_free(line);
  }
  return TRUE;
}

int main(int argc, char **argv) {
  g_mutex_init(&out_lock);
  if (argc != 13) {
    fprintf(stderr, "usage: vcbox-transcoder IN-CODEC IN-PT OUT-CODEC OUT-PT SSRC PORT MAX-W MAX-H FPS KBPS GOP MODE\n");
    return 2;
  }
  gboolean in_h264 = g_ascii_strcasecmp(argv[1], "H264") == 0, out_h264 = g_ascii_strcasecmp(argv[3], "H264") == 0;
  int in_pt = atoi(argv[2]), out_pt = atoi(argv[4]), port = atoi(argv[6]);
  guint ssrc = (guint)strtoul(argv[5], NULL, 10);
  max_w = atoi(argv[7]);
  max_h = atoi(argv[8]);
  fps = atoi(argv[9]);
  int kbps = atoi(argv[10]), gop = MAX(1, atoi(argv[11])), mode = atoi(argv[12]);
  min_gap = fps > 0 ? GST_SECOND / fps : 0;

  int rtp_port = 0, rtcp_port = 0;
  GSocket *socket = loopback_socket(&rtp_port);
  /* mediasoup sends RTCP (sender reports) to the port after: bound, never read (the kernel drops it). */
  GSocket *rtcp = socket ? loopback_socket(&rtcp_port) : NULL;
  if (!socket || !rtcp) {
    emit("fatal\tcannot open a loopback UDP port");
    return 1;
  }
  g_socket_set_option(socket, SOL_SOCKET, SO_RCVBUF, 1 << 21, NULL);
  /* Said before GStreamer starts (its registry and plugins take a while, longer on a loaded
   * machine): the source flows, and is asked for a key frame, meanwhile; the kernel keeps what
   * arrives until the pipeline reads it. */
  emit("ports\t%d\t%d", rtp_port, rtcp_port);
  gst_init(&argc, &argv);

  pipeline = gst_pipeline_new("transcoder");
  GstElement *chain[16];
  int n = 0;
  GstElement *src = make("udpsrc");
  GstCaps *caps = gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, "video", "clock-rate", G_TYPE_INT, 90000, "encoding-name",
                                      G_TYPE_STRING, in_h264 ? "H264" : "VP8", "payload", G_TYPE_INT, in_pt, NULL);
  g_object_set(src, "socket", socket, "close-socket", TRUE, "caps", caps, NULL);
  gst_caps_unref(caps);
  g_object_unref(socket);
  chain[n++] = src;
  GstElement *jitter = make("rtpjitterbuffer");
  /* Loopback from the media worker: reordering is rare; a short wait, then on. Nothing dropped
   * for being late: the packets kept while the pipeline started come in a burst. */
  g_object_set(jitter, "latency", 20, NULL);
  chain[n++] = jitter;
  if (in_h264) {
    chain[n++] = make("rtph264depay");
    chain[n++] = make("h264parse");
    GstElement *dec = gst_element_factory_make("avdec_h264", NULL);
    chain[n++] = dec ? dec : make("openh264dec");
  } else {
    GstElement *depay = make("rtpvp8depay");
    g_object_set(depay, "wait-for-keyframe", TRUE, NULL);
    chain[n++] = depay;
    chain[n++] = make("vp8dec");
  }
  GstElement *decoder = chain[n - 1];
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(decoder), "max-errors")) g_object_set(decoder, "max-errors", -1, NULL);
  chain[n++] = make("videoconvert");
  chain[n++] = make("videoscale");
  size_caps = make("capsfilter");
  chain[n++] = size_caps;
  GstElement *pay;
  if (out_h264) {
    encoder = make("x264enc");
    g_object_set(encoder, "bitrate", MAX(kbps, 64), "vbv-buf-capacity", 500, "key-int-max", gop, "threads", 1, "b-adapt", FALSE, "bframes", 0, NULL);
    gst_util_set_object_arg(G_OBJECT(encoder), "speed-preset", "ultrafast");
    gst_util_set_object_arg(G_OBJECT(encoder), "tune", "zerolatency");
    if (mode == 0) g_object_set(encoder, "option-string", "slice-max-size=1100", NULL);
    chain[n++] = encoder;
    GstElement *profile = make("capsfilter");
    /* The level follows the size (as the producer's profile-level-id says): 3.1 up to 720p, 4 above. */
    GstCaps *pcaps = gst_caps_new_simple("video/x-h264", "profile", G_TYPE_STRING, "constrained-baseline", "level", G_TYPE_STRING, max_h > 720 ? "4" : "3.1", NULL);
    g_object_set(profile, "caps", pcaps, NULL);
    gst_caps_unref(pcaps);
    chain[n++] = profile;
    pay = make("rtph264pay");
    /* SPS and PPS before every key frame: a receiver can start at any of them. */
    g_object_set(pay, "config-interval", -1, NULL);
  } else {
    encoder = make("vp8enc");
    g_object_set(encoder, "target-bitrate", MAX(kbps, 64) * 1000, "keyframe-max-dist", gop, "deadline", (gint64)1, "cpu-used", 8, "threads", 1,
                 "lag-in-frames", 0, "error-resilient", 1, NULL);
    gst_util_set_object_arg(G_OBJECT(encoder), "end-usage", "cbr");
    chain[n++] = encoder;
    pay = make("rtpvp8pay");
    gst_util_set_object_arg(G_OBJECT(pay), "picture-id-mode", "15-bit");
  }
  GstElement *encoded = chain[n - 1];
  g_object_set(pay, "pt", out_pt, "ssrc", ssrc, "mtu", 1200, NULL);
  chain[n++] = pay;
  GstElement *sink = make("udpsink");
  g_object_set(sink, "host", "127.0.0.1", "port", port, "sync", FALSE, "async", FALSE, NULL);
  chain[n++] = sink;
  for (int i = 0; i < n; i++) gst_bin_add(GST_BIN(pipeline), chain[i]);
  for (int i = 0; i + 1 < n; i++) {
    if (!gst_element_link(chain[i], chain[i + 1])) {
      emit("fatal\tcannot link %s to %s", GST_OBJECT_NAME(chain[i]), GST_OBJECT_NAME(chain[i + 1]));
      return 1;
    }
  }
  GstPad *pad = gst_element_get_static_pad(src, "src");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_packet, NULL, NULL);
  gst_object_unref(pad);
  pad = gst_element_get_static_pad(decoder, "src");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_decoded, NULL, NULL);
  gst_object_unref(pad);
  pad = gst_element_get_static_pad(encoded, "src");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_encoded, NULL, NULL);
  gst_object_unref(pad);

  loop = g_main_loop_new(NULL, FALSE);
  GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(pipeline));
  gst_bus_add_watch(bus, on_bus, NULL);
  gst_object_unref(bus);
  GIOChannel *channel = g_io_channel_unix_new(0);
  g_io_channel_set_encoding(channel, NULL, NULL);
  g_io_add_watch(channel, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, NULL);
  last_input_us = g_get_monotonic_time();
  g_timeout_add_seconds(1, watchdog, NULL);
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    emit("fatal\tthe pipeline did not start");
    return 1;
  }
  emit("ready");
  g_main_loop_run(loop);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  g_object_unref(rtcp);
  return 0;
}
