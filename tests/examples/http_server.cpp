// Copyright 2026 The pocore Authors. SPDX-License-Identifier: Apache-2.0
//
// pocore-http-server: a minimal HTTP/1.1 static file server with keep-alive.
//
//   pocore-http-server --root DIR [--host ADDR] [--port N] [--threads N] [--backend NAME]
//
// GET and HEAD of files under DIR (a path ending in '/' serves its
// index.html), with Content-Length on every response; 404 for what is not
// there, 405 for other methods, 400 for malformed requests, request bodies
// and any path that would leave DIR ("..", backslashes, NUL). Connections
// stay open (HTTP/1.1 keep-alive, also pipelined requests) until the client
// asks to close or goes away.
//
// What it shows: a connection with one operation in flight at a time (so
// its callbacks never overlap, even with many threads in run()), a gather
// send of header and body, and parsing only what has arrived.
//
// When ready it prints one line, `listening on ADDR:PORT`, and flushes it.

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <pocore/pocore.hpp>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
constexpr std::size_t max_head = 8192;  // a longer request head is refused

struct response {
  int status = 200;
  std::string body;
  std::string type = "text/plain";
};

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    default:
      return "Internal Server Error";
  }
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& ch : r)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return r;
}

int hex_digit(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

// Decodes %XX and checks every segment; empty if the path is refused.
std::string safe_path(std::string_view target) {
  target = target.substr(0, target.find('?'));
  if (target.empty() || target[0] != '/') return {};
  std::string out;
  for (std::size_t i = 0; i < target.size(); ++i) {
    char ch = target[i];
    if (ch == '%') {
      if (i + 2 >= target.size()) return {};
      const int hi = hex_digit(target[i + 1]), lo = hex_digit(target[i + 2]);
      if (hi < 0 || lo < 0) return {};
      ch = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (ch == '\0' || ch == '\\' || ch == ':') return {};
    out += ch;
  }
  for (std::size_t at = 0; at != std::string::npos;) {  // no "." or ".." segment
    std::size_t next = out.find('/', at + 1);
    std::string_view seg = std::string_view(out).substr(at + 1, next - at - 1);
    if (seg == "." || seg == "..") return {};
    at = next;
  }
  return out;
}

std::string content_type(const fs::path& p) {
  const std::string ext = lower(p.extension().string());
  if (ext == ".html" || ext == ".htm") return "text/html";
  if (ext == ".txt") return "text/plain";
  if (ext == ".css") return "text/css";
  if (ext == ".js") return "text/javascript";
  if (ext == ".json") return "application/json";
  if (ext == ".png") return "image/png";
  return "application/octet-stream";
}

response serve_file(const fs::path& root, const std::string& path) {
  fs::path file = root / fs::path(path.substr(1));
  if (!path.empty() && path.back() == '/') file /= "index.html";
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return {404, "not found\n"};
  std::ifstream in(file, std::ios::binary);
  std::ostringstream data;
  if (!(data << in.rdbuf())) return {404, "not found\n"};  // unreadable counts as absent
  return {200, std::move(data).str(), content_type(file)};
}

struct connection {
  connection(const fs::path& r, pocore::socket s) : root(r), sock(std::move(s)) {}
  const fs::path& root;
  pocore::socket sock;
  pocore::operation recv_op{&on_recv, this};
  pocore::operation send_op{&on_send, this};
  std::string in;          // received, not yet handled
  std::string head, body;  // the response being sent
  std::array<pocore::const_buffer, 2> out{};
  bool close_after = false;
  char buf[8192];

  void receive() { sock.async_recv(recv_op, pocore::make_buffer(buf, sizeof buf)); }

  // Handles the next complete request in `in`, if any; else reads more.
  void next() {
    const std::size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (in.size() > max_head) return reply({400, "request head too large\n"}, false, true);
      return receive();
    }
    const std::string req = in.substr(0, end + 2);
    in.erase(0, end + 4);
    handle(req);
  }

  void handle(const std::string& req) {
    // Request line: METHOD SP TARGET SP HTTP/1.x CRLF
    const std::size_t eol = req.find("\r\n"), sp1 = req.find(' '),
                      sp2 = sp1 == std::string::npos ? sp1 : req.find(' ', sp1 + 1);
    if (sp2 == std::string::npos || sp2 > eol)
      return reply({400, "bad request line\n"}, false, true);
    const std::string method = req.substr(0, sp1), target = req.substr(sp1 + 1, sp2 - sp1 - 1),
                      version = req.substr(sp2 + 1, eol - sp2 - 1);
    if (version != "HTTP/1.1" && version != "HTTP/1.0")
      return reply({400, "bad version\n"}, false, true);
    bool keep_alive = version == "HTTP/1.1";
    for (std::size_t at = eol + 2; at < req.size();) {  // headers
      const std::size_t e = req.find("\r\n", at), colon = req.find(':', at);
      if (colon == std::string::npos || colon > e) return reply({400, "bad header\n"}, false, true);
      const std::string name = lower(std::string_view(req).substr(at, colon - at));
      std::string value = lower(std::string_view(req).substr(colon + 1, e - colon - 1));
      value.erase(0, value.find_first_not_of(" \t"));
      if (name == "connection")
        keep_alive = value.find("close") == std::string::npos &&
                     (keep_alive || value.find("keep-alive") == 0);
      // No request carries a body here; refusing one keeps the framing simple.
      if ((name == "content-length" && value != "0") || name == "transfer-encoding")
        return reply({400, "request bodies are not accepted\n"}, false, true);
      at = e + 2;
    }
    const bool head_only = method == "HEAD";
    if (method != "GET" && !head_only)
      return reply({405, "only GET and HEAD\n"}, false, !keep_alive);
    const std::string path = safe_path(target);
    if (path.empty()) return reply({400, "path refused\n"}, head_only, !keep_alive);
    reply(serve_file(root, path), head_only, !keep_alive);
  }

  void reply(response r, bool head_only, bool close) {
    close_after = close;
    head = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) +
           "\r\nServer: pocore-http-server\r\nContent-Type: " + r.type +
           "\r\nContent-Length: " + std::to_string(r.body.size()) +
           (r.status == 405 ? "\r\nAllow: GET, HEAD" : "") +
           (close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
    body = head_only ? std::string() : std::move(r.body);
    out = {pocore::make_buffer(head.data(), head.size()),
           pocore::make_buffer(body.data(), body.size())};
    sock.async_send(send_op,
                    std::span<const pocore::const_buffer>(out.data(), body.empty() ? 1 : 2));
  }

  static void on_recv(pocore::operation& op) {
    auto* c = static_cast<connection*>(op.context);
    if (op.error || op.bytes == 0) return delete c;  // reset, or the client is done
    c->in.append(c->buf, op.bytes);
    c->next();
  }
  static void on_send(pocore::operation& op) {
    auto* c = static_cast<connection*>(op.context);
    if (op.error) return delete c;
    if (c->close_after) {
      c->sock.shutdown(pocore::shutdown_how::send);  // the client sees the end, then we close
      return delete c;
    }
    c->next();  // a pipelined request may already be waiting
  }
};

struct server {
  fs::path root;
  pocore::socket listener;
  pocore::accept_operation accept_op{&on_accept, this};

  static void on_accept(pocore::operation& base) {
    auto& op = static_cast<pocore::accept_operation&>(base);
    auto* self = static_cast<server*>(op.context);
    if (op.error == pocore::errc::operation_aborted) return;  // the listener closed
    if (!op.error) {
      op.accepted.set_option(pocore::socket_option::no_delay, 1);
      (new connection(self->root, std::move(op.accepted)))->receive();
    }
    self->listener.async_accept(op);
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", port_text = "0", backend, root;
  int threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    if (a == "--root")
      root = argv[i + 1];
    else if (a == "--host")
      host = argv[i + 1];
    else if (a == "--port")
      port_text = argv[i + 1];
    else if (a == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (a == "--backend")
      backend = argv[i + 1];
    else
      root.clear(), i = argc;
  }
  std::error_code ec;
  if (root.empty() || argc % 2 == 0 || threads < 1 || !fs::is_directory(root, ec)) {
    std::fprintf(stderr,
                 "usage: pocore-http-server --root DIR [--host ADDR] [--port N] "
                 "[--threads N] [--backend NAME]\n");
    return 2;
  }
  pocore::io_port port(pocore::port_options{backend}, ec);
  if (ec) return std::fprintf(stderr, "cannot make the port: %s\n", ec.message().c_str()), 1;
  const bool v6 = host.find(':') != std::string::npos;
  const pocore::endpoint ep =
      pocore::endpoint::parse((v6 ? "[" + host + "]" : host) + ":" + port_text, ec);
  if (ec) return std::fprintf(stderr, "bad --host or --port\n"), 2;

  server srv{fs::path(root), pocore::socket(port)};
  if ((ec = srv.listener.open(ep.family(), pocore::socket_type::stream)) ||
      (ec = srv.listener.bind(ep)) || (ec = srv.listener.listen())) {
    std::fprintf(stderr, "cannot listen on %s: %s\n", ep.to_string().c_str(), ec.message().c_str());
    return 1;
  }
  std::printf("listening on %s\n", srv.listener.local_endpoint(ec).to_string().c_str());
  std::fflush(stdout);
  srv.listener.async_accept(srv.accept_op);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&port] { port.run(); });
  port.run();  // until the process is stopped
  for (auto& t : pool) t.join();
  return 0;
}
