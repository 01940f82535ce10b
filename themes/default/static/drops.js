(() => {
	const d = document, R = d.querySelector("[data-drop]"), D = R?.dataset || {}, T = JSON.parse(d.querySelector("[data-text]").text);
	const api = (D.inventoryApi || "").replace(/\/+$/, ""), calm = matchMedia("(prefers-reduced-motion: reduce)").matches;
	const P = d.querySelectorAll("[data-sku]");
	let off = 0, ok, fails = 0, timer, t0 = 1;
	const now = () => Date.now() + off;
	const back = (n, ra) => Math.max(ra * 1e3 || 0, Math.random() * Math.min(6e4, 1e3 * 2 ** n));
	const say = (p, s) => (p.querySelector("[data-stock]").textContent = s);
	const beacon = (event, x) => D.telemetryUrl && navigator.sendBeacon(D.telemetryUrl, JSON.stringify({ drop: D.drop, event, ...x }));
	const later = (ms) => (clearTimeout(timer), (timer = setTimeout(poll, ms)));
	function phase(el, t) {
		const s = Date.parse(el.dataset.startsAt), e = Date.parse(el.dataset.endsAt);
		return t >= e ? "ended" : t < s ? "upcoming" : s ? "live" : "";
	}
	function tick() {
		const t = now();
		for (const el of d.querySelectorAll("[data-starts-at]")) {
			const p = phase(el, t), was = el.dataset.phase, l = el.querySelector("[data-phase-label]");
			const n = (Date.parse(p == "live" ? el.dataset.endsAt : el.dataset.startsAt) - t) / 1e3;
			el.dataset.phase = p;
			if (l && p) l.textContent = n > 0 ? T[p].replace("#", (n > 86400 ? (n / 86400 | 0) + "d " : "") + new Date(n * 1e3).toISOString().slice(11, calm ? 16 : 19)) : T[p].split(" ·")[0];
			if (el == R && was && was != p && api) later(Math.random() * 2e3);
		}
	}
	async function call(path, body, key) {
		const c = new AbortController(), t = setTimeout(() => c.abort(), body ? 8e3 : 4e3);
		try {
			const r = await fetch(api + "/drops/" + D.drop + path, {
				signal: c.signal, cache: "no-store", method: key ? "POST" : "GET", credentials: key ? "include" : "omit", body,
				headers: key ? { "Content-Type": "application/json", "Idempotency-Key": key } : {},
			});
			let j;
			try { j = JSON.parse(await r.text()); } catch (e) {}
			return { s: r.status, j: Object(j), ra: +r.headers.get("Retry-After") };
		} catch (e) {
			return { j: {}, e: c.signal.aborted ? "timeout" : "network" };
		} finally { clearTimeout(t); }
	}
	function mark(p, out) {
		const a = p.querySelector("[data-buy]"), n = a.firstChild;
		out ? a.setAttribute("aria-disabled", "true") : a.removeAttribute("aria-disabled");
		a.t = a.t || n.data;
		n.data = out ? T.sold_out : a.t;
	}
	async function poll() {
		if (d.hidden) return;
		const r = await call("/stock"), j = r.j, at = Date.parse(j.server_time);
		try { if (r.s == 200 && at) {
			off = at - Date.now(); ok = 1; fails = 0;
			const by = new Map(j.items.map((i) => [Object(i).sku, i]));
			for (const p of P) {
				const i = by.get(p.dataset.sku), s = i && i.state;
				if (/^(in_stock|low|sold_out)$/.test(s)) mark(p, s == "sold_out"), say(p, T[s].replace("#", i.available | 0));
			}
			if (t0) t0 = beacon("first_stock", { ms: performance.now() | 0 }) && 0;
			tick();
			return later(Math.min(6e4, Math.max(1e3, j.poll_after_ms | 0 || 5e3)) * (0.9 + Math.random() / 5));
		} } catch (x) {}
		ok = 0;
		beacon("stock_error", { code: r.e || j.code || r.s });
		for (const p of P) mark(p), say(p, T.na);
		later(back(++fails, r.ra));
	}
	async function buy(e) {
		const a = e.target.closest("[data-buy]"), p = a && a.closest("[data-sku]");
		if (!p) return;
		if (a.getAttribute("aria-disabled") || a.busy) return e.preventDefault();
		if (!ok || phase(R, now()) != "live" || e.ctrlKey || e.metaKey) return;
		e.preventDefault();
		a.busy = 1;
		const key = crypto.randomUUID?.() || "" + Math.random();
		let r, n = 0;
		while ((r = await call("/holds", JSON.stringify({ sku: p.dataset.sku, quantity: 1 }), key)).s != 201 && n < 2 && (!r.s || r.s > 499 || r.s == 429))
			await new Promise((f) => setTimeout(f, back(++n, r.ra)));
		const c = r.j.code, o = (x) => { try { return new URL(x).origin } catch (x) {} };
		if (r.s == 201 && [o(a.href), location.origin].includes(o(r.j.checkout_url))) return location.assign(r.j.checkout_url);
		a.busy = 0;
		beacon("hold_error", { code: c || r.e || r.s });
		if (r.s == 409 && /^(sold_out|limit_reached|not_live)$/.test(c)) return c == "sold_out" && mark(p, 1), say(p, T[c]);
		say(p, T.na);
		location.assign(a.href);
	}
	tick();
	setInterval(tick, 1e3);
	if (!api || !R) return;
	R.addEventListener("click", buy);
	d.addEventListener("visibilitychange", () => (d.hidden ? clearTimeout(timer) : later(Math.random() * 500)));
	poll();
})();
