#include "netns/nat.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <nftables/libnftables.h>

#include "core/base/strings.h"
#include "netns/enter.h"
#include "netns/link.h"

namespace berth::netns {

namespace {

bool valid_table(const std::string& t) {
  if (t.empty() || t.size() > 31 || !std::isalpha(static_cast<unsigned char>(t[0]))) return false;
  for (char c : t)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

bool valid_bridge(const std::string& b) {
  if (b.empty() || b.size() > 15) return false;
  for (char c : b)
    if (c <= ' ' || c == '"' || c == '\\' || c == '/' || c == ':' || c == 127) return false;
  return true;
}

std::string ruleset(const std::string& t, bool loopback_dnat) {
  return fmt::format(R"(table ip {0}
delete table ip {0}
table ip {0} {{
  set bridges {{ type ifname; }}
  set internal {{ type ifname; }}
  set same {{ type ifname . ifname; }}
  set nets {{ type ipv4_addr; flags interval; }}
  set masq_nets {{ type ipv4_addr; flags interval; }}
  set gateways {{ type ipv4_addr; }}
  set leaves {{ type ifname; flags interval; }}
  map pub_ip {{ type inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service; }}
  map pub_any {{ type inet_proto . inet_service : ipv4_addr . inet_service; }}
  chain raw {{
    type filter hook prerouting priority raw; policy accept;
    iifname @bridges ip daddr 127.0.0.0/8 drop
    iifname @leaves ip daddr 127.0.0.0/8 drop
    iifname @leaves notrack
  }}
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr @gateways th dport 53 accept
    dnat ip to meta l4proto . ip daddr . th dport map @pub_ip
    fib daddr type local dnat ip to meta l4proto . th dport map @pub_any
  }}
  chain output {{
    type nat hook output priority -100; policy accept;
{1}    dnat ip to meta l4proto . ip daddr . th dport map @pub_ip
    fib daddr type local dnat ip to meta l4proto . th dport map @pub_any
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
{2}    ct status dnat oifname @bridges ip saddr @nets masquerade
    ip saddr @masq_nets oifname != @bridges masquerade
  }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
    iifname . oifname @same accept
    iifname @internal drop
    oifname @internal drop
    ct status dnat accept
    iifname @bridges oifname @bridges drop
  }}
}}
)",
                     t, loopback_dnat ? "" : "    ip daddr 127.0.0.0/8 accept\n",
                     loopback_dnat ? "    ip saddr 127.0.0.0/8 oifname @bridges masquerade\n" : "");
}

// route_localnet on a root bridge: on with loopback_dnat (the host's
// 127.0.0.1 traffic DNATed to a container leaves through the bridge, and
// its replies come back to 127.0.0.1 through it), off otherwise.
Result<void> set_route_localnet(int netns_fd, const std::string& bridge, bool on) {
  return write_sysctl(netns_fd, "net/ipv4/conf/" + bridge + "/route_localnet", on ? "1" : "0");
}

std::string network_comment(const NatNetwork& n) {
  return fmt::format("subnet={} gateway={} internal={}", to_string(n.subnet), to_string(n.gateway),
                     n.internal ? 1 : 0);
}

// The element lines of a network, for "add"/"create" or "delete".
std::string network_elements(const std::string& verb, const std::string& t, const NatNetwork& n) {
  std::string s;
  bool del = verb == "delete";
  s += fmt::format("{} element ip {} bridges {{ \"{}\"{} }}\n", verb, t, n.bridge,
                   del ? "" : fmt::format(" comment \"{}\"", network_comment(n)));
  std::string v = del ? "delete" : "add";
  s += fmt::format("{} element ip {} same {{ \"{}\" . \"{}\" }}\n", v, t, n.bridge, n.bridge);
  s += fmt::format("{} element ip {} nets {{ {} }}\n", v, t, to_string(n.subnet));
  s += fmt::format("{} element ip {} gateways {{ {} }}\n", v, t, to_string(n.gateway));
  // nft 1.0.6 cannot delete a wildcard element from an interval set
  // ("element does not exist"): remove_network() rewrites the set instead.
  if (!del) s += fmt::format("add element ip {} leaves {{ \"{}\" }}\n", t, leaf_pattern(n.bridge));
  if (n.internal) s += fmt::format("{} element ip {} internal {{ \"{}\" }}\n", v, t, n.bridge);
  else s += fmt::format("{} element ip {} masq_nets {{ {} }}\n", v, t, to_string(n.subnet));
  return s;
}

Result<void> check_mapping(const PortMapping& m) {
  unsigned last = m.host_port_last ? m.host_port_last : m.host_port;
  if (m.host_port == 0 || m.container_port == 0)
    return Error::invalid("publish {}: port 0 (pick an ephemeral port before publishing)", to_string(m));
  if (last < m.host_port) return Error::invalid("publish {}: host port range ends before it starts", to_string(m));
  if (m.container_port + (last - m.host_port) > 65535)
    return Error::invalid("publish {}: host port range {}-{} and container port {} give a container port past 65535",
                          to_string(m), m.host_port, last, m.container_port);
  return ok();
}

// One key (and with `with_value`, " : value") per port of the mapping.
void mapping_elements(const PortMapping& m, bool with_value, std::string* ip_elems, std::string* any_elems) {
  unsigned last = m.host_port_last ? m.host_port_last : m.host_port;
  for (unsigned p = m.host_port; p <= last; p++) {
    std::string key = m.host_ip ? fmt::format("{} . {} . {}", proto_name(m.proto), to_string(*m.host_ip), p)
                                : fmt::format("{} . {}", proto_name(m.proto), p);
    std::string e = with_value ? fmt::format("{} : {} . {}", key, to_string(m.container_ip),
                                             m.container_port + (p - m.host_port))
                               : key;
    std::string* out = m.host_ip ? ip_elems : any_elems;
    if (!out->empty()) *out += ", ";
    *out += e;
  }
}

std::string ports_script(const std::string& verb, const std::string& t, std::span<const PortMapping> ports) {
  std::string ip_elems, any_elems;
  for (const auto& m : ports) mapping_elements(m, verb != "delete", &ip_elems, &any_elems);
  std::string s;
  if (!ip_elems.empty()) s += fmt::format("{} element ip {} pub_ip {{ {} }}\n", verb, t, ip_elems);
  if (!any_elems.empty()) s += fmt::format("{} element ip {} pub_any {{ {} }}\n", verb, t, any_elems);
  return s;
}

// The items between "elements = {" and its "}", split at top-level commas.
std::vector<std::string> element_items(const std::string& text) {
  std::vector<std::string> items;
  size_t at = text.find("elements = {");
  if (at == std::string::npos) return items;
  std::string cur;
  bool quoted = false;
  for (size_t i = at + 12; i < text.size(); i++) {
    char c = text[i];
    if (c == '"') quoted = !quoted;
    if (!quoted && (c == ',' || c == '}')) {
      size_t b = cur.find_first_not_of(" \t\n"), e = cur.find_last_not_of(" \t\n");
      if (b != std::string::npos) items.push_back(cur.substr(b, e - b + 1));
      cur.clear();
      if (c == '}') break;
      continue;
    }
    cur += c;
  }
  return items;
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  for (auto& w : split(s, ' '))
    if (!w.empty()) out.push_back(w);
  return out;
}

std::optional<NatNetwork> parse_network_item(const std::string& item) {
  // "berth0" comment "subnet=10.88.0.0/16 gateway=10.88.0.1 internal=0"
  size_t q = item.find('"', 1);
  size_t c = item.find("comment \"");
  if (item.empty() || item[0] != '"' || q == std::string::npos || c == std::string::npos) return std::nullopt;
  NatNetwork n;
  n.bridge = item.substr(1, q - 1);
  std::string comment = item.substr(c + 9, item.size() - c - 10);
  for (const auto& kv : words(comment)) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) return std::nullopt;
    std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (k == "subnet") {
      auto s = parse_cidr(v);
      if (!s) return std::nullopt;
      n.subnet = s->subnet();
    } else if (k == "gateway") {
      auto g = parse_ip4(v);
      if (!g) return std::nullopt;
      n.gateway = *g;
    } else if (k == "internal") {
      n.internal = v == "1";
    }
  }
  return n;
}

std::optional<PortMapping> parse_port_item(const std::string& item, bool with_ip) {
  // "6 . 8080 : 10.88.0.2 . 80" or "6 . 1.2.3.4 . 8080 : 10.88.0.2 . 80"
  auto w = words(item);
  size_t need = with_ip ? 9 : 7;
  if (w.size() != need) return std::nullopt;
  PortMapping m;
  if (w[0] == "6") m.proto = Proto::kTcp;
  else if (w[0] == "17") m.proto = Proto::kUdp;
  else return std::nullopt;
  size_t i = 2;
  if (with_ip) {
    m.host_ip = parse_ip4(w[i]);
    if (!m.host_ip) return std::nullopt;
    i += 2;
  }
  auto hp = parse_int(w[i]), cp = parse_int(w[i + 4]);
  auto cip = parse_ip4(w[i + 2]);
  if (!hp || !cp || !cip) return std::nullopt;
  m.host_port = uint16_t(*hp);
  m.container_ip = *cip;
  m.container_port = uint16_t(*cp);
  return m;
}

}  // namespace

const char* proto_name(Proto p) { return p == Proto::kTcp ? "tcp" : "udp"; }

std::string to_string(const PortMapping& m) {
  std::string host = m.host_ip ? to_string(*m.host_ip) : "0.0.0.0";
  if (m.host_port_last && m.host_port_last != m.host_port) {
    unsigned n = m.host_port_last - m.host_port;
    return fmt::format("{} {}:{}-{} -> {}:{}-{}", proto_name(m.proto), host, m.host_port, m.host_port_last,
                       to_string(m.container_ip), m.container_port, m.container_port + n);
  }
  return fmt::format("{} {}:{} -> {}:{}", proto_name(m.proto), host, m.host_port, to_string(m.container_ip),
                     m.container_port);
}

Result<std::unique_ptr<Nat>> Nat::create(const NatOptions& o) {
  if (!valid_table(o.table)) return Error::invalid("nftables table name \"{}\": use letters, digits and _", o.table);
  std::unique_ptr<Nat> n(new Nat(o));
  BERTH_TRY_VOID(in_netns(o.netns_fd, [&]() -> Result<void> {
    n->ctx_ = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!n->ctx_) return Error::make(Code::kSystem, "nftables: cannot make a context");
    nft_ctx_buffer_output(n->ctx_);
    nft_ctx_buffer_error(n->ctx_);
    nft_ctx_output_set_flags(n->ctx_, NFT_CTX_OUTPUT_NUMERIC_ALL);
    return ok();
  }));
  std::lock_guard lock(n->mu_);
  BERTH_TRY_VOID(n->run(ruleset(o.table, o.loopback_dnat)));  // replaces a crash's leftover table
  if (o.enable_ip_forward) BERTH_TRY_VOID(write_sysctl(o.netns_fd, "net/ipv4/ip_forward", "1"));
  return n;
}

Nat::~Nat() {
  if (ctx_) nft_ctx_free(ctx_);
}

Result<std::string> Nat::run(const std::string& script) {
  return in_netns(opts_.netns_fd, [&]() -> Result<std::string> {
    int rc = nft_run_cmd_from_buffer(ctx_, script.c_str());
    std::string out = nft_ctx_get_output_buffer(ctx_);
    std::string err = nft_ctx_get_error_buffer(ctx_);
    if (rc == 0) return out;
    // nft's first line is "Error: Could not process rule: File exists".
    std::string first = err.substr(0, err.find('\n'));
    for (const char* p : {"Error: Could not process rule: ", "Error: "})
      if (starts_with(first, p)) first = first.substr(std::strlen(p));
    Code code = Code::kSystem;
    if (first == "File exists") code = Code::kAlreadyExists;
    else if (first == "No such file or directory") code = Code::kNotFound;
    if (first.empty()) first = "failed";
    return Error(code, fmt::format("nftables table {}: {}", opts_.table, first));
  });
}

Result<void> Nat::destroy() {
  std::lock_guard lock(mu_);
  // route_localnet goes off before the guard rule goes with the table.
  if (auto listed = run(fmt::format("list set ip {} bridges", opts_.table)))
    for (const auto& item : element_items(*listed))
      if (auto n = parse_network_item(item)) (void)set_route_localnet(opts_.netns_fd, n->bridge, false);
  auto r = run(fmt::format("table ip {0}\ndelete table ip {0}\n", opts_.table));
  if (!r) return std::move(r.error());
  return ok();
}

Result<void> Nat::add_network(const NatNetwork& n) {
  if (!valid_bridge(n.bridge)) return Error::invalid("add network: bad bridge name \"{}\"", n.bridge);
  std::lock_guard lock(mu_);
  auto r = run(network_elements("create", opts_.table, n));
  if (!r) return std::move(r.error()).context("add network {} ({})", n.bridge, to_string(n.subnet));
  if (auto l = set_route_localnet(opts_.netns_fd, n.bridge, opts_.loopback_dnat); !l) {
    (void)run(network_elements("delete", opts_.table, n));
    return std::move(l.error()).context("add network {} ({})", n.bridge, to_string(n.subnet));
  }
  return ok();
}

Result<void> Nat::remove_network(const NatNetwork& n) {
  if (!valid_bridge(n.bridge)) return Error::invalid("remove network: bad bridge name \"{}\"", n.bridge);
  std::lock_guard lock(mu_);
  const std::string& t = opts_.table;
  auto listed = run(fmt::format("list set ip {} bridges", t));
  if (!listed) return std::move(listed.error()).context("remove network {} ({})", n.bridge, to_string(n.subnet));
  std::string script = network_elements("delete", t, n) + fmt::format("flush set ip {} leaves\n", t);
  for (const auto& item : element_items(*listed)) {
    auto other = parse_network_item(item);
    if (other && other->bridge != n.bridge)
      script += fmt::format("add element ip {} leaves {{ \"{}\" }}\n", t, leaf_pattern(other->bridge));
  }
  (void)set_route_localnet(opts_.netns_fd, n.bridge, false);  // before its guard rule goes
  auto r = run(script);
  if (!r) return std::move(r.error()).context("remove network {} ({})", n.bridge, to_string(n.subnet));
  return ok();
}

Result<void> Nat::add_ports(std::span<const PortMapping> ports) {
  for (const auto& m : ports) BERTH_TRY_VOID(check_mapping(m));
  if (ports.empty()) return ok();
  std::lock_guard lock(mu_);
  auto r = run(ports_script("add", opts_.table, ports));
  if (!r) {
    if (ports.size() == 1) return std::move(r.error()).context("publish {}", to_string(ports[0]));
    return std::move(r.error()).context("publish {} port mappings", ports.size());
  }
  return ok();
}

Result<void> Nat::remove_ports(std::span<const PortMapping> ports) {
  for (const auto& m : ports) BERTH_TRY_VOID(check_mapping(m));
  if (ports.empty()) return ok();
  std::unique_lock lock(mu_);
  auto r = run(ports_script("delete", opts_.table, ports));
  if (r || r.error().code() != Code::kNotFound) return r ? ok() : Result<void>(std::move(r.error()));
  // Some were not there (there is no "destroy element" before nft 1.0.8):
  // delete the ones that are.
  lock.unlock();
  NatListing now = BERTH_TRY(list());
  lock.lock();
  std::vector<PortMapping> present;
  for (const auto& m : ports) {
    unsigned last = m.host_port_last ? m.host_port_last : m.host_port;
    for (unsigned p = m.host_port; p <= last; p++) {
      PortMapping one = m;
      one.host_port = uint16_t(p);
      one.host_port_last = 0;
      one.container_port = uint16_t(m.container_port + (p - m.host_port));
      for (const auto& have : now.ports)
        if (have.proto == one.proto && have.host_ip == one.host_ip && have.host_port == one.host_port)
          present.push_back(one);
    }
  }
  if (present.empty()) return ok();
  auto again = run(ports_script("delete", opts_.table, present));
  if (!again) return std::move(again.error());
  return ok();
}

Result<NatListing> Nat::list() {
  std::lock_guard lock(mu_);
  NatListing out;
  std::string t = opts_.table;
  std::string bridges = BERTH_TRY(run(fmt::format("list set ip {} bridges", t)));
  for (const auto& item : element_items(bridges)) {
    auto n = parse_network_item(item);
    if (!n) return Error(Code::kCorrupt, fmt::format("nftables table {}: bad network element: {}", t, item));
    out.networks.push_back(*n);
  }
  for (bool with_ip : {true, false}) {
    std::string text = BERTH_TRY(run(fmt::format("list map ip {} {}", t, with_ip ? "pub_ip" : "pub_any")));
    for (const auto& item : element_items(text)) {
      auto m = parse_port_item(item, with_ip);
      if (!m) return Error(Code::kCorrupt, fmt::format("nftables table {}: bad port element: {}", t, item));
      out.ports.push_back(*m);
    }
  }
  std::sort(out.networks.begin(), out.networks.end(),
            [](const NatNetwork& a, const NatNetwork& b) { return a.bridge < b.bridge; });
  std::sort(out.ports.begin(), out.ports.end(), [](const PortMapping& a, const PortMapping& b) {
    return std::tuple(a.proto, a.host_ip.value_or(Ip4{}), a.host_port) <
           std::tuple(b.proto, b.host_ip.value_or(Ip4{}), b.host_port);
  });
  return out;
}

}  // namespace berth::netns
