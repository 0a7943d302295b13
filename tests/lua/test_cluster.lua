-- bl.cluster: exemplar clustering from Lua.  Good and bad arguments (bad
-- ones raise errors naming the argument or field), determinism, and gains
-- that agree with the definition computed here in Lua on a tiny dataset.
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local lt = require "lt"
local bl = require "betlab"

-- tiny data: 7 points in R^3 (row lists)
local pts = {
  { 0.1, 0.2, 0.3 }, { 1.0, 0.0, -1.0 }, { 0.9, 0.1, -0.8 }, { -2.0, 1.5, 0.5 },
  { -1.8, 1.4, 0.6 }, { 0.0, 0.0, 0.0 }, { 3.0, -1.0, 2.0 },
}
local n = #pts

-- the definition: L(S) = 1/n sum_v min_{s in S u {0}} ||v - s||^2,
-- f(S) = L({0}) - L(S u {0})
local function d2(a, b)
  local s = 0
  for i = 1, #a do s = s + (a[i] - b[i]) ^ 2 end
  return s
end
local zero = { 0, 0, 0 }
local function L(S)
  local tot = 0
  for _, v in ipairs(pts) do
    local m = d2(v, zero)
    for _, s in ipairs(S) do m = math.min(m, d2(v, pts[s])) end
    tot = tot + m
  end
  return tot / n
end
local function f(S) return L({}) - L(S) end

local function close(a, b, tol, msg)
  lt.ok(math.abs(a - b) <= tol * math.max(1, math.abs(b)),
        string.format("%s: %.17g vs %.17g", msg, a, b))
end

-- gains against the definition, fp64 on the CPU and the reference
for _, dev in ipairs { "cpu", "reference" } do
  for _, S in ipairs { {}, { 2 }, { 2, 4 }, { 7, 1, 5 } } do
    local g, fS = bl.cluster.gains(pts, { set = S, device = dev, precision = "fp64" })
    lt.eq(#g, n, "one gain per row")
    close(fS, f(S), 1e-12, dev .. " f(S)")
    for c = 1, n do
      local S2 = { table.unpack(S) }
      S2[#S2 + 1] = c
      close(g[c], f(S2) - f(S), 1e-12, dev .. " gain of " .. c)
    end
  end
end
-- fp32 within its tolerance; explicit candidates in their order
local g32 = bl.cluster.gains(pts, { set = { 3 }, candidates = { 5, 1 } })
lt.eq(#g32, 2, "candidates")
close(g32[1], f({ 3, 5 }) - f({ 3 }), 1e-5, "fp32 gain 5")
close(g32[2], f({ 3, 1 }) - f({ 3 }), 1e-5, "fp32 gain 1")

-- exemplar: greedy picks the best gain first; f matches the definition
local r = bl.cluster.exemplar(pts, { k = 3, optimizer = "greedy", precision = "fp64" })
lt.eq(#r.exemplars, 3, "k exemplars")
close(r.f, f(r.exemplars), 1e-12, "f of the chosen set")
lt.eq(#r.f_trace, 3, "f_trace")
close(r.f_trace[3], r.f, 1e-12, "last f_trace")
local best, bi = -1, 0
for c = 1, n do if f({ c }) > best then best, bi = f({ c }), c end end
lt.eq(r.exemplars[1], bi, "greedy's first exemplar is the best single point")
lt.ok(r.evaluations > 0 and r.seconds >= 0, "evaluations, seconds")
lt.eq(r.optimizer, "greedy", "optimizer name")
lt.eq(r.precision, "fp64", "precision")
lt.eq(r.n, n, "n")
lt.eq(r.d, 3, "d")
lt.ok(type(r.device) == "string", "device")
local lz = bl.cluster.exemplar(pts, { k = 3, optimizer = "lazy-greedy", precision = "fp64" })
for i = 1, 3 do lt.eq(lz.exemplars[i], r.exemplars[i], "lazy-greedy == greedy") end

-- determinism: every optimizer twice with one seed, on blobs and a dataset
local ds = bl.data.random(300, { shape = { 4, 4, 1 }, seed = 3 })
for _, opt in ipairs { "greedy", "lazy-greedy", "stochastic-greedy", "sieve-streaming",
                       "sieve-streaming++", "three-sieves", "salsa" } do
  local a = bl.cluster.exemplar("blobs:400,5,4,2", { k = 4, optimizer = opt, seed = 7 })
  local b = bl.cluster.exemplar("blobs:400,5,4,2", { k = 4, optimizer = opt, seed = 7 })
  lt.eq(a.f, b.f, opt .. " deterministic f")
  lt.eq(table.concat(a.exemplars, ","), table.concat(b.exemplars, ","), opt .. " exemplars")
  lt.ok(#a.exemplars >= 1 and #a.exemplars <= 4, opt .. " at most k")
end
local a = bl.cluster.exemplar(ds, { k = 5, limit = 200, seed = 1 })
lt.eq(a.n, 200, "limit rows")
lt.eq(a.d, 16, "dataset features")
for _, e in ipairs(a.exemplars) do lt.ok(e >= 1 and e <= 200, "1-based exemplar index") end

-- progress callback: fractions in [0, 1], f non-decreasing
local calls, last = 0, -1
bl.cluster.exemplar(pts, { k = 4, optimizer = "greedy", on_progress = function(fr, fv)
  calls = calls + 1
  lt.ok(fr >= 0 and fr <= 1, "fraction")
  lt.ok(fv >= last - 1e-9, "f grows")
  last = fv
end })
lt.ok(calls >= 1, "on_progress called")
-- an error in the callback stops the run and comes back
lt.err("stop here", bl.cluster.exemplar, pts, { k = 3, on_progress = function() error("stop here") end })

-- bad arguments
local E = bl.cluster.exemplar
lt.err("bad argument #1 to 'exemplar'", E, nil, { k = 1 })
lt.err("bad argument #1 to 'exemplar'", E, 42, { k = 1 })
lt.err("bad argument #1 to 'exemplar'", E, "blobs:x", { k = 1 })
lt.err("bad argument #1 to 'exemplar'", E, { { 1, 2 }, { 3 } }, { k = 1 })
lt.err("bad argument #1 to 'exemplar'", E, { { 1, "x" } }, { k = 1 })
lt.err("bad argument #1 to 'exemplar'", E, { { 1, 0 / 0 } }, { k = 1 })
lt.err("bad argument #2 to 'exemplar'", E, pts)
lt.err("field 'k'", E, pts, {})
lt.err("field 'k'", E, pts, { k = 0 })
lt.err("field 'k'", E, pts, { k = 1.5 })
lt.err("field 'k'", E, pts, { k = n + 1 })
lt.err("field 'optimizer'", E, pts, { k = 1, optimizer = "best" })
lt.err("field 'precision'", E, pts, { k = 1, precision = "fp8" })
lt.err("field 'precision'", E, pts, { k = 1, device = "reference", precision = "fp32" })
lt.err("field 'device'", E, pts, { k = 1, device = "tpu" })
lt.err("field 'epsilon'", E, pts, { k = 1, epsilon = 2 })
lt.err("field 'seed'", E, pts, { k = 1, seed = -1 })
lt.err("field 'on_progress'", E, pts, { k = 1, on_progress = 3 })
lt.err("unknown field 'kk'", E, pts, { kk = 1 })
local G = bl.cluster.gains
lt.err("bad argument #1 to 'gains'", G, nil)
lt.err("field 'set'", G, pts, { set = { 0 } })
lt.err("field 'set'", G, pts, { set = 3 })
lt.err("field 'candidates'", G, pts, { candidates = { n + 1 } })
lt.err("field 'device'", G, pts, { device = "nowhere" })
lt.err("unknown field 'sets'", G, pts, { sets = {} })

print("test_cluster.lua: " .. lt.passed .. " checks passed")
