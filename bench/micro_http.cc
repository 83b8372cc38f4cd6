// HTTP parse throughput of ipc/proto's RequestParser on what the docker CLI
// sends: a create request with a JSON body, a GET with an encoded filters
// query, pipelined keep-alive requests, and a chunked image upload.
// Run: ./build/bin/bench_micro_http
#include <benchmark/benchmark.h>

#include <string>

#include "ipc/proto/frames.h"
#include "ipc/proto/request.h"
#include "ipc/proto/response.h"

namespace {

using berth::ipc::ParseEvent;
using berth::ipc::RequestParser;

std::string create_body() {
  return R"({"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,)"
         R"("AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["FOO=bar"],)"
         R"("Cmd":["sh","-c","echo hello"],"Image":"busybox","Volumes":{},"WorkingDir":"",)"
         R"("Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,)"
         R"("ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default",)"
         R"("PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,)"
         R"("VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,)"
         R"("CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,)"
         R"("GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"",)"
         R"("Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,)"
         R"("UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,)"
         R"("NanoCpus":0,"MemorySwappiness":-1,"OomKillDisable":null,"PidsLimit":null},)"
         R"("NetworkingConfig":{"EndpointsConfig":{"default":{}}}})" "\n";
}

std::string create_request() {
  std::string body = create_body();
  return "POST /v1.50/containers/create?name=web HTTP/1.1\r\nHost: api.moby.localhost\r\n"
         "User-Agent: Docker-Client/28.2.2 (linux)\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nContent-Type: application/json\r\n\r\n" + body;
}

std::string ps_request() {
  return "GET /v1.50/containers/json?all=1&filters=%7B%22name%22%3A%7B%22web%22%3Atrue%7D%7D HTTP/1.1\r\n"
         "Host: api.moby.localhost\r\nUser-Agent: Docker-Client/28.2.2 (linux)\r\n\r\n";
}

// Parses every request in `wire` with one parser; returns the number of
// completed requests (keeps the optimiser honest).
int64_t parse_all(RequestParser& p, std::string_view wire) {
  int64_t done = 0;
  size_t body_bytes = 0;
  while (!wire.empty()) {
    auto step = p.feed(wire);
    if (!step) std::abort();
    if (step->event == ParseEvent::kBody) body_bytes += step->body.size();
    if (step->event == ParseEvent::kComplete) done++;
    wire.remove_prefix(step->consumed);
  }
  benchmark::DoNotOptimize(body_bytes);
  if (auto step = p.feed(wire); step && step->event == ParseEvent::kComplete) done++;
  return done;
}

void run_requests(benchmark::State& state, const std::string& one, int per_buffer) {
  std::string wire;
  for (int i = 0; i < per_buffer; i++) wire += one;
  RequestParser p;
  int64_t requests = 0;
  for (auto _ : state) requests += parse_all(p, wire);
  state.SetItemsProcessed(requests);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(wire.size()));
}

void BM_ParseCreateRequest(benchmark::State& state) { run_requests(state, create_request(), 1); }
void BM_ParsePsRequest(benchmark::State& state) { run_requests(state, ps_request(), 1); }
void BM_ParsePipelined16(benchmark::State& state) { run_requests(state, ps_request(), 16); }

// `docker import`: a tar streamed with Transfer-Encoding: chunked in 32 KiB
// chunks (Go's bufio size); range(0) is the body size in KiB.
void BM_ParseChunkedUpload(benchmark::State& state) {
  size_t body_bytes = size_t(state.range(0)) * 1024;
  std::string wire = "POST /v1.50/images/create?fromSrc=-&repo=imp%3Av1 HTTP/1.1\r\nHost: api.moby.localhost\r\n"
                     "Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string chunk(32 * 1024, 't');
  for (size_t sent = 0; sent < body_bytes; sent += chunk.size()) berth::ipc::append_chunk(wire, chunk);
  wire += berth::ipc::kLastChunk;
  RequestParser p;
  for (auto _ : state) benchmark::DoNotOptimize(parse_all(p, wire));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(wire.size()));
}

// The same upload arriving in 4 KiB reads, as a socket delivers it.
void BM_ParseChunkedUploadSmallReads(benchmark::State& state) {
  std::string wire = "POST /v1.50/images/load HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string chunk(32 * 1024, 't');
  for (int i = 0; i < 32; i++) berth::ipc::append_chunk(wire, chunk);
  wire += berth::ipc::kLastChunk;
  RequestParser p;
  for (auto _ : state) {
    std::string_view rest = wire;
    std::string buf;
    while (!rest.empty() || !buf.empty()) {
      buf.append(rest.substr(0, 4096));
      rest.remove_prefix(std::min<size_t>(4096, rest.size()));
      for (;;) {
        auto step = p.feed(buf);
        if (!step) std::abort();
        buf.erase(0, step->consumed);
        if (step->event == ParseEvent::kNeedMore || step->event == ParseEvent::kComplete) break;
      }
    }
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(wire.size()));
}

void BM_FrameDemux(benchmark::State& state) {
  std::string wire;
  for (int i = 0; i < 256; i++) berth::ipc::append_frame(wire, uint8_t(1 + i % 2), std::string(80, 'l'));
  uint8_t stream;
  std::string payload;
  for (auto _ : state) {
    berth::ipc::FrameReader r;
    r.feed(wire);
    while (r.next(&stream, &payload)) benchmark::DoNotOptimize(payload.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * 256);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(wire.size()));
}

BENCHMARK(BM_ParseCreateRequest);
BENCHMARK(BM_ParsePsRequest);
BENCHMARK(BM_ParsePipelined16);
BENCHMARK(BM_ParseChunkedUpload)->Arg(1024)->Arg(16 * 1024);
BENCHMARK(BM_ParseChunkedUploadSmallReads);
BENCHMARK(BM_FrameDemux);

}  // namespace

BENCHMARK_MAIN();
