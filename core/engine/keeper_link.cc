#include "core/engine/keeper_link.h"

#include <cstring>

#include "core/base/assert.h"
#include "core/base/log.h"
#include "core/runtime/spawner.h"

namespace berth::engine {

namespace {
constexpr size_t kExitsMax = 4096;
}

KeeperLink::KeeperLink(reactor::Reactor& r, std::function<void()> lost) : r_(r), lost_(std::move(lost)) {
  recv_c_.set_callback([this](int32_t res, uint32_t) { received(res); });
}

void KeeperLink::attach(std::shared_ptr<runtime::Spawner> s) {
  BERTH_ASSERT(!recv_c_.in_flight());
  s_ = std::move(s);
  connected_ = true;
  ++generation_;
}

void KeeperLink::receive() {
  if (closing_ || !s_ || recv_c_.in_flight()) return;
  r_.recv(s_->events_fd(), &msg_, sizeof msg_, recv_c_);
}

void KeeperLink::remember(pid_t pid, KeptExit e) {
  if (auto w = waiters_.find(pid); w != waiters_.end()) {
    auto fn = std::move(w->second);
    waiters_.erase(w);
    return fn(e);
  }
  if (exits_.insert_or_assign(pid, e).second) exit_order_.push_back(pid);
  while (exit_order_.size() > kExitsMax) {
    exits_.erase(exit_order_.front());
    exit_order_.pop_front();
  }
}

void KeeperLink::on_exit(pid_t pid, uint64_t gen, std::function<void(std::optional<KeptExit>)> fn) {
  if (auto it = exits_.find(pid); it != exits_.end()) {
    KeptExit e = it->second;
    exits_.erase(it);
    return fn(e);
  }
  if (!connected_ || gen != generation_) return fn(std::nullopt);
  waiters_[pid] = std::move(fn);
}

void KeeperLink::watch(pid_t pid, uint64_t gen, int64_t since_ns, bool alive,
                       std::function<void(std::optional<KeptExit>)> fn) {
  if (auto it = exits_.find(pid); it != exits_.end() && it->second.exit_ns < since_ns && alive)
    exits_.erase(it);  // an earlier process's, under the same pid
  on_exit(pid, gen, std::move(fn));
}

void KeeperLink::received(int32_t res) {
  if (res == -ECANCELED || closing_) {
    if (closing_ && closed_) r_.defer(std::move(closed_));
    return;
  }
  if (res == int32_t(sizeof msg_) && msg_.tag == 'K' && msg_.type == runtime::KeeperType::kExit) {
    remember(msg_.pid, {msg_.exit_code, msg_.exit_ns});
    return receive();
  }
  if (res > 0) return receive();  // nothing else is pushed; ignored
  if (res == -EINTR || res == -EAGAIN) return receive();
  ++losses_;
  connected_ = false;
  log::error("engine", "the keeper (pid {}) is gone ({}): containers it kept died with it and their exit codes are "
             "lost; a new keeper starts for new containers",
             s_ ? s_->pid() : 0, res == 0 ? "EOF" : std::strerror(-res));
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& [pid, fn] : waiters) fn(std::nullopt);
  if (lost_) lost_();
}

void KeeperLink::close(std::function<void()> closed) {
  closing_ = true;
  if (!recv_c_.in_flight()) return r_.defer(std::move(closed));
  closed_ = std::move(closed);
  r_.cancel(recv_c_);
}

}  // namespace berth::engine
