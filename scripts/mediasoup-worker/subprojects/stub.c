/* Empty translation unit for the placeholder static libraries that the thin
 * subprojects export (mediasoup lists them in link_whole). The build script
 * copies this file into every thin subproject directory. */
typedef int vcbox_mediasoup_worker_stub_t;
