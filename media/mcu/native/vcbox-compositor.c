/*
 * vcbox-compositor — the MCU's picture engine: one process per composed meeting picture.
 *
 * A GStreamer pipeline built and changed at run time from commands on stdin (one per line,
 * fields separated by tabs), reporting on stdout (one event per line, tab-separated):
 *
 *   background videotestsrc (black, live: the output clock) ─┐
 *   input: udpsrc ! rtpjitterbuffer ! depay ! decoder ! videoscale ! caps(pane) ! textoverlay ─┤
 *   content: udpsrc ! rtpjitterbuffer ! depay ! decoder ! videoscale(borders) ! caps(pane) ────┤
 *   placeholder: videotestsrc (grey) ! videoscale ! caps(pane) ! textoverlay ───────────────────┤
 *                                                                      compositor ! tee ─┬─ output: videoscale ! x264enc|vp8enc ! pay ! udpsink
 *                                                                                        └─ …
 * Commands
 *   canvas W H FPS                       first command: the composed canvas (the largest output)
 *   input ID CODEC PT NAME               RTP in (CODEC VP8|H264) on a loopback port → "input-port ID RTP-PORT RTCP-PORT"
 *   content ID CODEC PT                  a presentation (content) in: as input, without a caption, its
 *                                        aspect ratio kept in its pane (letterbox/pillarbox in black)
 *   placeholder ID NAME                  a "no video" pane
 *   pane ID X Y W H Z                    place (and show) an input; W or H 0 hides it
 *   name ID TEXT                         the caption on the pane
 *   highlight ID 0|1                     the speaker's caption in amber
 *   remove ID                            drop an input or placeholder
 *   output ID CODEC PT SSRC PORT KBPS W H MODE [SRC]  an encoded RTP output to 127.0.0.1:PORT (MODE: H.264
 *                                        packetization mode), sent from loopback port SRC (0: any)
 *                                        → "output-port ID SRC" (a restarted compositor sends from the
 *                                        same port, so the receiving transport keeps taking it)
 *   keyframe ID                          the output's next frame is a key frame
 *   drop-output ID
 *   commit SEQ                           → "committed SEQ MS": ms from the command to the first
 *                                        encoded frame composed after it (layout-change latency)
 * Events: ready, input-port, input-frame ID (first decoded frame), output-frame ID (first
 * encoded frame), committed, input-error ID TEXT (the input is dropped), fatal TEXT (exits 1).
 * Inputs are re-stamped with the running time when they reach the compositor: the picture
 * always shows each participant's latest decoded frame, whatever its own clock says.
 * stdin closed → the process ends (the media process that drove it is gone).
 */
#include <gio/gio.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_FIELDS 12

typedef struct {
  char *id;
  GstElement *elements[10];
  int count;
  GstElement *caps;
  GstElement *text;
  GstPad *mix_pad;
  GSocket *rtcp; /* where mediasoup's RTCP for the input goes (never read: the kernel drops it) */
  gboolean seen;
} Input;

typedef struct {
  char *id;
  GstElement *elements[8];
  int count;
  GstElement *encoder;
  GstPad *tee_pad;
  gboolean seen;
} Output;

static GstElement *pipeline, *mixer, *tee;
static GHashTable *inputs, *outputs;
static GMainLoop *loop;
static int canvas_w = 1280, canvas_h = 720, canvas_fps = 30;
static GMutex out_lock;

/* Commit tracking: the compositor's first buffer after the command, then the first encoded
 * frame whose time is not older than it. */
static volatile gint commit_seq = -1;
static GstClockTime commit_wall, commit_pts = GST_CLOCK_TIME_NONE;

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

static void set_caps(GstElement *capsfilter, int w, int h, int fps) {
  GstCaps *caps = fps > 0
    ? gst_caps_new_simple("video/x-raw", "width", G_TYPE_INT, w, "height", G_TYPE_INT, h, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, "framerate", GST_TYPE_FRACTION, fps, 1, NULL)
    : gst_caps_new_simple("video/x-raw", "width", G_TYPE_INT, w, "height", G_TYPE_INT, h, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
  g_object_set(capsfilter, "caps", caps, NULL);
  gst_caps_unref(caps);
}

static void set_caption(Input *input, const char *name, int pane_h) {
  if (!input->text) return;
  char font[64];
  int size = pane_h / 14;
  if (size < 7) size = 7;
  g_snprintf(font, sizeof font, "Sans %d", size);
  if (name) g_object_set(input->text, "text", name, NULL);
  g_object_set(input->text, "font-desc", font, NULL);
}

/* ---- probes (streaming threads) ---- */

static GstPadProbeReturn restamp(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  Input *input = data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  GstClock *clock = gst_element_get_clock(pipeline);
  if (!clock) return GST_PAD_PROBE_OK;
  GstClockTime now = gst_clock_get_time(clock) - gst_element_get_base_time(pipeline);
  gst_object_unref(clock);
  buffer = gst_buffer_make_writable(buffer);
  GST_BUFFER_PTS(buffer) = now;
  GST_BUFFER_DTS(buffer) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION(buffer) = GST_CLOCK_TIME_NONE;
  GST_PAD_PROBE_INFO_DATA(info) = buffer;
  if (!input->seen) {
    input->seen = TRUE;
    emit("input-frame\t%s", input->id);
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn on_composed(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  if (g_atomic_int_get(&commit_seq) >= 0 && commit_pts == GST_CLOCK_TIME_NONE) {
    /* The frame being aggregated when the command came may predate it: take the next one. */
    static gboolean skipped = FALSE;
    if (!skipped) {
      skipped = TRUE;
      return GST_PAD_PROBE_OK;
    }
    skipped = FALSE;
    commit_pts = GST_BUFFER_PTS(GST_PAD_PROBE_INFO_BUFFER(info));
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn on_encoded(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  Output *output = data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!output->seen) {
    output->seen = TRUE;
    emit("output-frame\t%s", output->id);
  }
  gint seq = g_atomic_int_get(&commit_seq);
  if (seq >= 0 && commit_pts != GST_CLOCK_TIME_NONE && GST_BUFFER_PTS(buffer) != GST_CLOCK_TIME_NONE && GST_BUFFER_PTS(buffer) >= commit_pts) {
    if (g_atomic_int_compare_and_exchange(&commit_seq, seq, -1)) {
      emit("committed\t%d\t%.1f", seq, (double)(g_get_monotonic_time() * 1000 - commit_wall) / 1e6);
      commit_pts = GST_CLOCK_TIME_NONE;
    }
  }
  return GST_PAD_PROBE_OK;
}

/* ---- inputs ---- */

static void add_branch(Input *input, GstElement *last) {
  for (int i = 0; i < input->count; i++) gst_bin_add(GST_BIN(pipeline), input->elements[i]);
  for (int i = 0; i + 1 < input->count; i++) {
    if (!gst_element_link(input->elements[i], input->elements[i + 1])) {
      emit("fatal\tcannot link the input branch of %s", input->id);
      exit(1);
    }
  }
  input->mix_pad = gst_element_request_pad_simple(mixer, "sink_%u");
  g_object_set(input->mix_pad, "alpha", 0.0, "xpos", 0, "ypos", 0, "width", 1, "height", 1, "zorder", 1, NULL);
  GstPad *src = gst_element_get_static_pad(last, "src");
  gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER, restamp, input, NULL);
  gst_pad_link(src, input->mix_pad);
  gst_object_unref(src);
  for (int i = input->count - 1; i >= 0; i--) gst_element_sync_state_with_parent(input->elements[i]);
}

static Input *new_input(const char *id) {
  Input *input = g_new0(Input, 1);
  input->id = g_strdup(id);
  return input;
}

static GstElement *caption_tail(Input *input, const char *name) {
  GstElement *scale = make("videoscale");
  GstElement *caps = make("capsfilter");
  GstElement *text = make("textoverlay");
  GstElement *queue = make("queue");
  set_caps(caps, 320, 180, 0);
  g_object_set(text, "valignment", 1 /* bottom */, "halignment", 0 /* left */, "shaded-background", TRUE, "text", name, NULL);
  g_object_set(queue, "leaky", 2 /* downstream */, "max-size-buffers", 2, "max-size-time", (guint64)0, "max-size-bytes", 0, NULL);
  input->elements[input->count++] = scale;
  input->elements[input->count++] = caps;
  input->elements[input->count++] = text;
  input->elements[input->count++] = queue;
  input->caps = caps;
  input->text = text;
  set_caption(input, NULL, 180);
  return queue;
}

/* A UDP socket on loopback port *port (0: a free one; the port bound in *port), or NULL. */
static GSocket *loopback_socket(int *port) {
  GSocket *socket = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  if (!socket) return NULL;
  GInetAddress *loopback = g_inet_address_new_from_string("127.0.0.1");
  GSocketAddress *address = g_inet_socket_address_new(loopback, (guint16)CLAMP(*port, 0, 65535));
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

/* Content: scaled into its pane keeping its aspect ratio (videoscale adds black borders to
 * the pane's size, whatever the presenter sends: 16:9, 4:3, a resolution change); no caption. */
static GstElement *content_tail(Input *input) {
  GstElement *scale = make("videoscale");
  GstElement *caps = make("capsfilter");
  GstElement *queue = make("queue");
  g_object_set(scale, "add-borders", TRUE, NULL);
  set_caps(caps, 320, 180, 0);
  g_object_set(queue, "leaky", 2 /* downstream */, "max-size-buffers", 2, "max-size-time", (guint64)0, "max-size-bytes", 0, NULL);
  input->elements[input->count++] = scale;
  input->elements[input->count++] = caps;
  input->elements[input->count++] = queue;
  input->caps = caps;
  return queue;
}

/* An RTP input (a camera with its caption, or content when `caption` is NULL). */
static void rtp_input(const char *id, const char *codec, int pt, const char *caption) {
  if (g_hash_table_contains(inputs, id)) return emit("error\tinput %s exists", id);
  gboolean h264 = g_ascii_strcasecmp(codec, "H264") == 0;
  int port = 0, rtcp_port = 0;
  GSocket *socket = loopback_socket(&port);
  GSocket *rtcp = socket ? loopback_socket(&rtcp_port) : NULL;
  if (!socket || !rtcp) {
    if (socket) g_object_unref(socket);
    return emit("input-error\t%s\tcannot open a loopback UDP port", id);
  }
  g_socket_set_option(socket, SOL_SOCKET, SO_RCVBUF, 1 << 21, NULL);

  Input *input = new_input(id);
  input->rtcp = rtcp;
  GstElement *src = make("udpsrc");
  GstCaps *caps = gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, "video", "clock-rate", G_TYPE_INT, 90000,
                                      "encoding-name", G_TYPE_STRING, h264 ? "H264" : "VP8", "payload", G_TYPE_INT, pt, NULL);
  g_object_set(src, "socket", socket, "close-socket", TRUE, "caps", caps, NULL);
  gst_caps_unref(caps);
  g_object_unref(socket);
  GstElement *jitter = make("rtpjitterbuffer");
  g_object_set(jitter, "latency", 40, "drop-on-latency", TRUE, NULL);
  input->elements[input->count++] = src;
  input->elements[input->count++] = jitter;
  if (h264) {
    GstElement *depay = make("rtph264depay");
    GstElement *parse = make("h264parse");
    GstElement *dec = gst_element_factory_make("avdec_h264", NULL);
    if (!dec) dec = make("openh264dec");
    input->elements[input->count++] = depay;
    input->elements[input->count++] = parse;
    input->elements[input->count++] = dec;
  } else {
    GstElement *depay = make("rtpvp8depay");
    GstElement *dec = make("vp8dec");
    g_object_set(depay, "wait-for-keyframe", TRUE, NULL);
    input->elements[input->count++] = depay;
    input->elements[input->count++] = dec;
  }
  GstElement *decoder = input->elements[input->count - 1];
  /* A corrupt stream is not fatal: keep decoding, the next key frame heals it. */
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(decoder), "max-errors")) g_object_set(decoder, "max-errors", -1, NULL);
  input->elements[input->count++] = make("videoconvert");
  GstElement *last = caption ? caption_tail(input, caption) : content_tail(input);
  g_hash_table_insert(inputs, input->id, input);
  add_branch(input, last);
  /* While the pane changes size the compositor scales too: keep the aspect ratio there as well. */
  if (!caption) gst_util_set_object_arg(G_OBJECT(input->mix_pad), "sizing-policy", "keep-aspect-ratio");
  emit("input-port\t%s\t%d\t%d", input->id, port, rtcp_port);
}

static void cmd_input(char **f, int n) {
  if (n < 5) return emit("error\tinput needs ID CODEC PT NAME");
  rtp_input(f[1], f[2], atoi(f[3]), f[4]);
}

static void cmd_content(char **f, int n) {
  if (n < 4) return emit("error\tcontent needs ID CODEC PT");
  rtp_input(f[1], f[2], atoi(f[3]), NULL);
}

static void cmd_placeholder(char **f, int n) {
  if (n < 3) return emit("error\tplaceholder needs ID NAME");
  if (g_hash_table_contains(inputs, f[1])) return emit("error\tinput %s exists", f[1]);
  Input *input = new_input(f[1]);
  GstElement *src = make("videotestsrc");
  GstElement *rate = make("capsfilter");
  g_object_set(src, "is-live", TRUE, "pattern", 17 /* solid color */, "foreground-color", 0xff303840, NULL);
  set_caps(rate, 320, 180, 5);
  input->elements[input->count++] = src;
  input->elements[input->count++] = rate;
  GstElement *last = caption_tail(input, f[2]);
  g_hash_table_insert(inputs, input->id, input);
  add_branch(input, last);
}

static void cmd_pane(char **f, int n) {
  if (n < 7) return emit("error\tpane needs ID X Y W H Z");
  Input *input = g_hash_table_lookup(inputs, f[1]);
  if (!input) return emit("error\tno input %s", f[1]);
  int x = atoi(f[2]), y = atoi(f[3]), w = atoi(f[4]), h = atoi(f[5]), z = atoi(f[6]);
  /* Panes stay on the canvas, whatever the command says. */
  x = CLAMP(x, 0, canvas_w - 2);
  y = CLAMP(y, 0, canvas_h - 2);
  if (w > 0) w = CLAMP(w, 2, canvas_w - x);
  if (h > 0) h = CLAMP(h, 2, canvas_h - y);
  z = CLAMP(z, 0, 1000);
  if (w <= 0 || h <= 0) {
    g_object_set(input->mix_pad, "alpha", 0.0, NULL);
    return;
  }
  /* The compositor scales to the pane at once (the next frame has the new geometry); the
   * branch's own scaler then follows, so the compositor stops scaling. */
  g_object_set(input->mix_pad, "xpos", x, "ypos", y, "width", w, "height", h, "zorder", z + 1, "alpha", 1.0, NULL);
  set_caps(input->caps, w & ~1, h & ~1, 0);
  set_caption(input, NULL, h);
}

static void cmd_highlight(char **f, int n) {
  if (n < 3) return emit("error\thighlight needs ID 0|1");
  Input *input = g_hash_table_lookup(inputs, f[1]);
  if (input && input->text) g_object_set(input->text, "color", atoi(f[2]) ? 0xffffc000u : 0xffffffffu, NULL);
}

static void cmd_name(char **f, int n) {
  if (n < 3) return emit("error\tname needs ID TEXT");
  Input *input = g_hash_table_lookup(inputs, f[1]);
  if (input && input->text) g_object_set(input->text, "text", f[2], NULL);
}

/* A dropped branch's elements, stopped off the main loop. */
typedef struct {
  GstElement *elements[10];
  int count;
} Teardown;

static gpointer stop_branch(gpointer data) {
  Teardown *teardown = data;
  for (int i = 0; i < teardown->count; i++) {
    gst_element_set_state(teardown->elements[i], GST_STATE_NULL);
    gst_object_unref(teardown->elements[i]);
  }
  g_free(teardown);
  return NULL;
}

/* The branch leaves the mixer first (releasing the mixer's pad flushes it, which wakes a
 * streaming thread waiting in it), then the pipeline (its elements unlinked: their threads
 * stop at their next push); its elements are stopped on a thread of their own. Stopping them
 * here could wait on a streaming thread busy with a frame — garbage can make one huge and slow
 * to scale — and block this main loop: no command answered, every input timing out. The id is
 * free at once for the input made again. */
static void drop_input(Input *input) {
  GstPad *src = gst_element_get_static_pad(input->elements[input->count - 1], "src");
  gst_pad_unlink(src, input->mix_pad);
  gst_object_unref(src);
  gst_element_release_request_pad(mixer, input->mix_pad);
  gst_object_unref(input->mix_pad);
  Teardown *teardown = g_new0(Teardown, 1);
  for (int i = 0; i < input->count; i++) {
    teardown->elements[i] = gst_object_ref(input->elements[i]);
    gst_bin_remove(GST_BIN(pipeline), input->elements[i]);
  }
  teardown->count = input->count;
  g_thread_unref(g_thread_new("drop-input", stop_branch, teardown));
  g_hash_table_remove(inputs, input->id);
}

static void free_input(gpointer data) {
  Input *input = data;
  if (input->rtcp) g_object_unref(input->rtcp);
  g_free(input->id);
  g_free(input);
}

static void cmd_remove(char **f, int n) {
  if (n < 2) return emit("error\tremove needs ID");
  Input *input = g_hash_table_lookup(inputs, f[1]);
  if (input) drop_input(input);
}

/* ---- outputs ---- */

static void cmd_output(char **f, int n) {
  if (n < 10) return emit("error\toutput needs ID CODEC PT SSRC PORT KBPS W H MODE [SRC]");
  if (g_hash_table_contains(outputs, f[1])) return emit("error\toutput %s exists", f[1]);
  int source_port = n > 10 ? atoi(f[10]) : 0;
  GSocket *socket = loopback_socket(&source_port);
  if (!socket) return emit("error\toutput %s: cannot send from loopback port %d", f[1], source_port);
  gboolean h264 = g_ascii_strcasecmp(f[2], "H264") == 0;
  int pt = atoi(f[3]), port = atoi(f[5]), kbps = atoi(f[6]), w = atoi(f[7]), h = atoi(f[8]), mode = atoi(f[9]);
  guint ssrc = (guint)strtoul(f[4], NULL, 10);
  Output *output = g_new0(Output, 1);
  output->id = g_strdup(f[1]);
  GstElement *queue = make("queue");
  g_object_set(queue, "leaky", 2, "max-size-buffers", 2, "max-size-time", (guint64)0, "max-size-bytes", 0, NULL);
  GstElement *scale = make("videoscale");
  GstElement *caps = make("capsfilter");
  set_caps(caps, w & ~1, h & ~1, 0);
  GstElement *enc, *pay;
  int gop = canvas_fps * 4;
  if (h264) {
    enc = make("x264enc");
    g_object_set(enc, "bitrate", kbps, "key-int-max", gop, "threads", 1, "b-adapt", FALSE, "bframes", 0, NULL);
    gst_util_set_object_arg(G_OBJECT(enc), "speed-preset", "ultrafast");
    gst_util_set_object_arg(G_OBJECT(enc), "tune", "zerolatency");
    /* Packetization mode 0: every NAL unit must fit one packet. */
    if (mode == 0) g_object_set(enc, "option-string", "slice-max-size=1100", NULL);
    pay = make("rtph264pay");
    g_object_set(pay, "config-interval", -1, NULL);
  } else {
    enc = make("vp8enc");
    g_object_set(enc, "target-bitrate", kbps * 1000, "keyframe-max-dist", gop, "deadline", (gint64)1, "cpu-used", 8, "threads", 1,
                 "lag-in-frames", 0, "error-resilient", 1, NULL);
    gst_util_set_object_arg(G_OBJECT(enc), "end-usage", "cbr");
    pay = make("rtpvp8pay");
    gst_util_set_object_arg(G_OBJECT(pay), "picture-id-mode", "15-bit");
  }
  GstElement *profile = make("capsfilter");
  if (h264) {
    GstCaps *pcaps = gst_caps_new_simple("video/x-h264", "profile", G_TYPE_STRING, "constrained-baseline", NULL);
    g_object_set(profile, "caps", pcaps, NULL);
    gst_caps_unref(pcaps);
  }
  /* RTP time follows the wall clock (90 kHz), not this process's start: a compositor that
   * takes over a dead one's output continues its timestamps, and receivers see one stream. */
  GstClock *clock = gst_element_get_clock(pipeline);
  GstClockTime running = clock ? gst_clock_get_time(clock) - gst_element_get_base_time(pipeline) : 0;
  if (clock) gst_object_unref(clock);
  guint64 wall90k = (guint64)g_get_real_time() * 9 / 100;
  guint32 ts_offset = (guint32)(wall90k - gst_util_uint64_scale(running, 90000, GST_SECOND));
  g_object_set(pay, "pt", pt, "ssrc", ssrc, "mtu", 1200, "timestamp-offset", ts_offset, NULL);
  GstElement *sink = make("udpsink");
  g_object_set(sink, "host", "127.0.0.1", "port", port, "sync", FALSE, "async", FALSE, "socket", socket, "close-socket", TRUE, NULL);
  g_object_unref(socket);
  GstElement *chain[] = {queue, scale, caps, enc, profile, pay, sink};
  output->count = 7;
  for (int i = 0; i < output->count; i++) {
    output->elements[i] = chain[i];
    gst_bin_add(GST_BIN(pipeline), chain[i]);
  }
  for (int i = 0; i + 1 < output->count; i++) {
    if (!gst_element_link(chain[i], chain[i + 1])) {
      emit("fatal\tcannot link the output branch of %s", output->id);
      exit(1);
    }
  }
  output->encoder = enc;
  GstPad *encoded = gst_element_get_static_pad(profile, "src");
  gst_pad_add_probe(encoded, GST_PAD_PROBE_TYPE_BUFFER, on_encoded, output, NULL);
  gst_object_unref(encoded);
  output->tee_pad = gst_element_request_pad_simple(tee, "src_%u");
  GstPad *queue_sink = gst_element_get_static_pad(queue, "sink");
  gst_pad_link(output->tee_pad, queue_sink);
  gst_object_unref(queue_sink);
  for (int i = output->count - 1; i >= 0; i--) gst_element_sync_state_with_parent(chain[i]);
  g_hash_table_insert(outputs, output->id, output);
  emit("output-port\t%s\t%d", output->id, source_port);
}

static void request_keyframe(Output *output) {
  GstStructure *s = gst_structure_new("GstForceKeyUnit", "running-time", GST_TYPE_CLOCK_TIME, GST_CLOCK_TIME_NONE, "all-headers", G_TYPE_BOOLEAN, TRUE,
                                      "count", G_TYPE_UINT, 0, NULL);
  GstPad *pad = gst_element_get_static_pad(output->encoder, "src");
  gst_pad_send_event(pad, gst_event_new_custom(GST_EVENT_CUSTOM_UPSTREAM, s));
  gst_object_unref(pad);
}

static void cmd_keyframe(char **f, int n) {
  if (n < 2) return emit("error\tkeyframe needs ID");
  Output *output = g_hash_table_lookup(outputs, f[1]);
  if (output) request_keyframe(output);
}

static void free_output(gpointer data) {
  Output *output = data;
  g_free(output->id);
  g_free(output);
}

static void cmd_drop_output(char **f, int n) {
  if (n < 2) return emit("error\tdrop-output needs ID");
  Output *output = g_hash_table_lookup(outputs, f[1]);
  if (!output) return;
  for (int i = 0; i < output->count; i++) gst_element_set_state(output->elements[i], GST_STATE_NULL);
  GstPad *queue_sink = gst_element_get_static_pad(output->elements[0], "sink");
  gst_pad_unlink(output->tee_pad, queue_sink);
  gst_object_unref(queue_sink);
  gst_element_release_request_pad(tee, output->tee_pad);
  gst_object_unref(output->tee_pad);
  for (int i = 0; i < output->count; i++) gst_bin_remove(GST_BIN(pipeline), output->elements[i]);
  g_hash_table_remove(outputs, output->id);
}

static void cmd_commit(char **f, int n) {
  if (n < 2) return;
  commit_pts = GST_CLOCK_TIME_NONE;
  commit_wall = (GstClockTime)g_get_monotonic_time() * 1000;
  g_atomic_int_set(&commit_seq, atoi(f[1]));
}

/* ---- the pipeline ---- */

static gboolean on_bus(GstBus *bus, GstMessage *message, gpointer data);

static void start_pipeline(void) {
  pipeline = gst_pipeline_new("mcu");
  GstElement *bg = make("videotestsrc");
  GstElement *bg_caps = make("capsfilter");
  /* Live whatever is plugged in: inputs come and go while it runs, and a new input's latency
   * query may fail before its source runs — without force-live the compositor would then
   * wait for every input forever instead of composing on the clock. */
  mixer = gst_element_factory_make_full("compositor", "force-live", TRUE, NULL);
  if (!mixer) {
    emit("fatal\tthe GStreamer element compositor is missing (install gstreamer1.0-plugins-base)");
    exit(1);
  }
  GstElement *out_caps = make("capsfilter");
  tee = make("tee");
  g_object_set(bg, "is-live", TRUE, "pattern", 2 /* black */, NULL);
  /* The clock of the picture: a tiny black live source (the compositor paints the background). */
  set_caps(bg_caps, 16, 16, canvas_fps);
  g_object_set(mixer, "background", 1 /* black */, "ignore-inactive-pads", TRUE, NULL);
  GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT, canvas_w, "height", G_TYPE_INT, canvas_h,
                                      "framerate", GST_TYPE_FRACTION, canvas_fps, 1, NULL);
  g_object_set(out_caps, "caps", caps, NULL);
  gst_caps_unref(caps);
  g_object_set(tee, "allow-not-linked", TRUE, NULL);
  gst_bin_add_many(GST_BIN(pipeline), bg, bg_caps, mixer, out_caps, tee, NULL);
  if (!gst_element_link_many(bg, bg_caps, mixer, out_caps, tee, NULL)) {
    emit("fatal\tcannot build the compositor pipeline");
    exit(1);
  }
  GstPad *composed = gst_element_get_static_pad(out_caps, "src");
  gst_pad_add_probe(composed, GST_PAD_PROBE_TYPE_BUFFER, on_composed, NULL, NULL);
  gst_object_unref(composed);
  GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(pipeline));
  gst_bus_add_watch(bus, on_bus, NULL);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  emit("ready");
}

/* Which input (if any) an element belongs to. */
static Input *input_of(GstObject *element) {
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init(&iter, inputs);
  while (g_hash_table_iter_next(&iter, &key, &value)) {
    Input *input = value;
    for (int i = 0; i < input->count; i++)
      if (GST_OBJECT(input->elements[i]) == element) return input;
  }
  return NULL;
}

static gboolean on_bus(GstBus *bus, GstMessage *message, gpointer data) {
  if (GST_MESSAGE_TYPE(message) != GST_MESSAGE_ERROR) return TRUE;
  GError *error = NULL;
  gchar *debug = NULL;
  gst_message_parse_error(message, &error, &debug);
  Input *input = input_of(GST_MESSAGE_SRC(message));
  if (input) {
    /* The reason with GStreamer's detail (e.g. "reason not-negotiated"), on one line. */
    gchar *detail = g_strdup_printf("%s (%s)", error->message, debug ? debug : "");
    g_strdelimit(detail, "\t\r\n", ' ');
    if (strlen(detail) > 300) detail[300] = '\0';
    emit("input-error\t%s\t%s", input->id, detail);
    g_free(detail);
    drop_input(input);
  } else if (!gst_object_has_as_ancestor(GST_MESSAGE_SRC(message), GST_OBJECT(pipeline))) {
    /* A late error from an input already dropped (its parser failed, then its source's
     * streaming thread posted too): that input is gone, the picture goes on. */
    fprintf(stderr, "late error from a dropped input: %s\n", error->message);
  } else {
    emit("fatal\t%s: %s", GST_OBJECT_NAME(GST_MESSAGE_SRC(message)), error->message);
    exit(1);
  }
  g_clear_error(&error);
  g_free(debug);
  return TRUE;
}

static void handle(char *line) {
  char *f[MAX_FIELDS];
  int n = 0;
  char *save = NULL;
  for (char *field = strtok_r(line, "\t", &save); field && n < MAX_FIELDS; field = strtok_r(NULL, "\t", &save)) f[n++] = field;
  if (n == 0) return;
  if (strcmp(f[0], "canvas") == 0 && n >= 4 && !pipeline) {
    canvas_w = atoi(f[1]) & ~1;
    canvas_h = atoi(f[2]) & ~1;
    canvas_fps = atoi(f[3]);
    start_pipeline();
  } else if (!pipeline) {
    emit("error\tthe first command must be: canvas W H FPS");
  } else if (strcmp(f[0], "input") == 0) cmd_input(f, n);
  else if (strcmp(f[0], "content") == 0) cmd_content(f, n);
  else if (strcmp(f[0], "placeholder") == 0) cmd_placeholder(f, n);
  else if (strcmp(f[0], "pane") == 0) cmd_pane(f, n);
  else if (strcmp(f[0], "name") == 0) cmd_name(f, n);
  else if (strcmp(f[0], "highlight") == 0) cmd_highlight(f, n);
  else if (strcmp(f[0], "remove") == 0) cmd_remove(f, n);
  else if (strcmp(f[0], "output") == 0) cmd_output(f, n);
  else if (strcmp(f[0], "keyframe") == 0) cmd_keyframe(f, n);
  else if (strcmp(f[0], "drop-output") == 0) cmd_drop_output(f, n);
  else if (strcmp(f[0], "commit") == 0) cmd_commit(f, n);
  else emit("error\tunknown command %s", f[0]);
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
    handle(line);
    g_free(line);
  }
  return TRUE;
}

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  g_mutex_init(&out_lock);
  inputs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, free_input);
  outputs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, free_output);
  loop = g_main_loop_new(NULL, FALSE);
  GIOChannel *channel = g_io_channel_unix_new(0);
  /* Raw bytes: a line that is not UTF-8 is a bad command, not the end of the channel. */
  g_io_channel_set_encoding(channel, NULL, NULL);
  g_io_add_watch(channel, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, NULL);
  g_main_loop_run(loop);
  if (pipeline) gst_element_set_state(pipeline, GST_STATE_NULL);
  return 0;
}
