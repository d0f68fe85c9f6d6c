// The tls_loadgen module: JavaScript builds a population once, then runs phases on it. Each
// phase runs on its own threads (Napi::AsyncProgressQueueWorker); per-second snapshots come back
// through the progress queue, the totals through a promise. No JavaScript runs per connection.
#include <napi.h>
#include <openssl/crypto.h>

#include <memory>

#include "phase.h"
#include "population.h"

namespace tsc::loadgen {
namespace {

using PopulationRef = std::shared_ptr<Population>;

double Num(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}

Napi::Object KindToJs(Napi::Env env, const KindCounters& k) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("handshakes", static_cast<double>(k.handshakes));
  o.Set("offered", static_cast<double>(k.offered));
  o.Set("resumed", static_cast<double>(k.resumed));
  return o;
}

Napi::Object SnapshotToJs(Napi::Env env, const Snapshot& s) {
  const Counters& c = s.counters;
  Napi::Object o = Napi::Object::New(env);
  o.Set("elapsedMs", s.elapsedMs);
  o.Set("intervalMs", s.intervalMs);
  o.Set("handshakes", static_cast<double>(c.handshakes));
  o.Set("full", static_cast<double>(c.full));
  o.Set("resumed", static_cast<double>(c.resumed));
  o.Set("offered", static_cast<double>(c.offered));
  o.Set("completed", static_cast<double>(c.completed));
  o.Set("failures", static_cast<double>(c.failures));
  Napi::Object reasons = Napi::Object::New(env);
  for (const auto& [reason, n] : c.failureReasons) reasons.Set(reason, static_cast<double>(n));
  o.Set("failureReasons", reasons);
  Napi::Object kinds = Napi::Object::New(env);
  for (int i = 0; i < kKindCount; i++) kinds.Set(KindName(static_cast<ClientKind>(i)), KindToJs(env, c.kinds[i]));
  o.Set("kinds", kinds);
  Napi::Object versions = Napi::Object::New(env);
  versions.Set("TLSv1.2", KindToJs(env, c.tls12));
  versions.Set("TLSv1.3", KindToJs(env, c.tls13));
  o.Set("versions", versions);
  Napi::Object latency = Napi::Object::New(env);
  latency.Set("p50", s.p50);
  latency.Set("p90", s.p90);
  latency.Set("p99", s.p99);
  o.Set("latencyMicros", latency);
  return o;
}

PopulationRef Unwrap(const Napi::Value& v) {
  if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), "expected a population handle");
  return *v.As<Napi::External<PopulationRef>>().Data();
}

// createPopulation({ clients, shares: [reuse, once, sessionId, fresh], tls13Share, targets:
// [{ host, port }], servername, seed, placement: 'client' | 'connection' }) -> handle. Validated in TypeScript first.
Napi::Value CreatePopulation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  PopulationConfig config;
  config.clients = static_cast<uint32_t>(Num(o, "clients", 100));
  Napi::Array shares = o.Get("shares").As<Napi::Array>();
  for (uint32_t i = 0; i < kKindCount && i < shares.Length(); i++)
    config.kindShare[i] = shares.Get(i).ToNumber().DoubleValue();
  config.tls13Share = Num(o, "tls13Share", 0.5);
  Napi::Array targets = o.Get("targets").As<Napi::Array>();
  for (uint32_t i = 0; i < targets.Length(); i++) {
    Napi::Object t = targets.Get(i).As<Napi::Object>();
    config.targets.push_back({t.Get("host").ToString().Utf8Value(), static_cast<uint16_t>(Num(t, "port", 0))});
  }
  if (o.Get("servername").IsString()) config.servername = o.Get("servername").ToString().Utf8Value();
  config.seed = static_cast<uint64_t>(Num(o, "seed", 1));
  config.perConnectionTarget =
      o.Get("placement").IsString() && o.Get("placement").ToString().Utf8Value() == "connection";
  PopulationRef pop;
  try {
    pop = std::make_shared<Population>(std::move(config));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("loadgen: ") + e.what());
  }
  // The handle owns one shared reference; a running phase holds its own, so collecting the
  // handle mid-run is safe.
  auto holder = std::make_unique<PopulationRef>(std::move(pop));
  auto external = Napi::External<PopulationRef>::New(
      env, holder.get(), [](Napi::Env, PopulationRef* p) { std::unique_ptr<PopulationRef> drop(p); });
  holder.release();  // now owned by the External's finalizer
  return external;
}

Napi::Value Forget(const Napi::CallbackInfo& info) {
  Unwrap(info[0])->Forget();
  return info.Env().Undefined();
}

Napi::Value Describe(const Napi::CallbackInfo& info) {
  PopulationRef pop = Unwrap(info[0]);
  Napi::Env env = info.Env();
  uint32_t kinds[kKindCount] = {0, 0, 0, 0};
  uint32_t tls13 = 0, sessions = 0;
  for (size_t i = 0; i < pop->size(); i++) {
    Client& c = pop->client(i);
    std::lock_guard<std::mutex> lock(c.mutex);
    kinds[static_cast<int>(c.kind)]++;
    if (c.tls13) tls13++;
    if (c.session) sessions++;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("clients", static_cast<double>(pop->size()));
  Napi::Object k = Napi::Object::New(env);
  for (int i = 0; i < kKindCount; i++) k.Set(KindName(static_cast<ClientKind>(i)), kinds[i]);
  o.Set("kinds", k);
  o.Set("tls13", tls13);
  o.Set("withSession", sessions);
  return o;
}

class RunWorker : public Napi::AsyncProgressQueueWorker<Snapshot> {
 public:
  RunWorker(Napi::Env env, PopulationRef pop, PhaseConfig config, Napi::Function onSecond)
      : Napi::AsyncProgressQueueWorker<Snapshot>(env),
        pop_(std::move(pop)),
        config_(config),
        deferred_(Napi::Promise::Deferred::New(env)) {
    if (!onSecond.IsEmpty()) onSecond_ = Napi::Persistent(onSecond);
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute(const ExecutionProgress& progress) override {
    try {
      totals_ = RunPhase(*pop_, config_, [&](Snapshot&& s) { progress.Send(&s, 1); });
    } catch (const std::exception& e) {
      SetError(std::string("loadgen: ") + e.what());
    }
  }

  void OnProgress(const Snapshot* data, size_t count) override {
    if (onSecond_.IsEmpty()) return;
    Napi::HandleScope scope(Env());
    for (size_t i = 0; i < count; i++) onSecond_.Call({SnapshotToJs(Env(), data[i])});
  }

  void OnOK() override { deferred_.Resolve(SnapshotToJs(Env(), totals_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  PopulationRef pop_;
  PhaseConfig config_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference onSecond_;
  Snapshot totals_;
};

// run(handle, { durationMs, concurrency, rate, connections, sweep, timeoutMs }, onSecond?) -> Promise<totals>
Napi::Value Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PopulationRef pop = Unwrap(info[0]);
  Napi::Object o = info[1].As<Napi::Object>();
  PhaseConfig config;
  config.durationMs = static_cast<uint32_t>(Num(o, "durationMs", 5000));
  config.concurrency = static_cast<uint32_t>(Num(o, "concurrency", 8));
  config.rate = Num(o, "rate", 0);
  config.connections = static_cast<uint64_t>(Num(o, "connections", 0));
  config.sweep = o.Get("sweep").ToBoolean().Value();
  config.timeoutMs = static_cast<uint32_t>(Num(o, "timeoutMs", 5000));
  if (config.concurrency == 0) config.concurrency = 1;
  Napi::Function onSecond = info.Length() > 2 && info[2].IsFunction() ? info[2].As<Napi::Function>() : Napi::Function();
  // node-addon-api's AsyncWorker contract: allocated here, deletes itself after OnOK/OnError.
  auto* worker = new RunWorker(env, std::move(pop), config, onSecond);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("createPopulation", Napi::Function::New(env, CreatePopulation));
  exports.Set("forget", Napi::Function::New(env, Forget));
  exports.Set("describe", Napi::Function::New(env, Describe));
  exports.Set("run", Napi::Function::New(env, Run));
  exports.Set("opensslVersion", Napi::String::New(env, OpenSSL_version(OPENSSL_VERSION)));
  return exports;
}

}  // namespace
}  // namespace tsc::loadgen

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return tsc::loadgen::Init(env, exports); }

NODE_API_MODULE(tls_resumption_loadgen, InitModule)
