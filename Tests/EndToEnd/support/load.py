# Bounded HTTP load for the health e2e: sequential requests, one connection each, until DURATION
# seconds or MAX requests. One line per request: "START_MS ok|fail WHO" (wall clock, ms).
#   python3 load.py VIP PORT DURATION MAX OUTFILE
import socket, sys, time

vip, port, duration, limit, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
end = time.time() + duration
n = 0
with open(out, "w") as f:
    while time.time() < end and n < limit:
        t0 = time.time()
        ok, who = False, "-"
        try:
            s = socket.create_connection((vip, port), timeout=2)
            s.settimeout(2)
            s.sendall(b"GET / HTTP/1.0\r\nHost: lvhc\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                c = s.recv(4096)
                if not c:
                    break
                data += c
            s.close()
            head, _, body = data.partition(b"\r\n\r\n")
            if head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n", 1)[0] + b" ":
                ok, who = True, body.decode(errors="replace").strip() or "-"
        except Exception as e:
            who = type(e).__name__
        f.write("%d %s %s\n" % (int(t0 * 1000), "ok" if ok else "fail", who))
        f.flush()
        n += 1
        time.sleep(0.01)
