-- bft_curves.lua - accuracy over BER of the shipped fc models with and
-- without bit-flip training, and both gradient modes: does flip-ste adapt
-- less to p_train than flip-exact?
--   betlab run sessions/bft_curves.lua [--quick]
-- Writes bft_curves.csv (model, p_train, mode, ber, accuracy, ci) and
-- prints a terminal plot.  Full mode: 10,000 test images, 5 fault maps
-- per BER (about 1-2 minutes on 2 cores); --quick: 300 images, 2 maps.
local bl = require "betlab"
local quick = bl.session.quick()
local names = { "fc-p0", "fc-p0.01", "fc-p0.05", "fc-p0.1", "fc-p0.1-exact" }
local models = bl.session.models(names, quick)
local ds = bl.session.data(quick, quick and 300 or 10000)
local bers = quick and { 0, 0.01, 0.05, 0.1, 0.2 }
                    or { 0, 0.005, 0.01, 0.02, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2 }
local reps = quick and 2 or 5
print(string.format("%d models, %d images, %d BERs x %d fault maps", #models, #ds, #bers, reps))

local rows, series, at = {}, {}, {}
for i, e in ipairs(models) do
  local sw = bl.sweep{ model = e.model, data = ds, ber = bers, reps = reps, seed = 1 }
  local x, y = {}, {}
  for _, r in ipairs(sw:rows()) do
    rows[#rows + 1] = { model = e.name, p_train = e.name:match("p([%d.]+)") or "",
                        mode = e.name:find("exact") and "exact" or "ste", ber = r.ber,
                        accuracy = r.accuracy, ci_low = r.ci_low, ci_high = r.ci_high,
                        reps = r.reps }
    x[#x + 1], y[#y + 1] = r.ber, r.accuracy
    at[e.name .. "@" .. r.ber] = r.accuracy
  end
  series[i] = { x = x, y = y, label = e.name }
  print(string.format("  %-16s clean %.4f   BER 0.1: %.4f", e.name, y[1], at[e.name .. "@0.1"]))
end
bl.csv.write("bft_curves.csv", { "model", "p_train", "mode", "ber", "accuracy", "ci_low",
                                 "ci_high", "reps" }, rows)
print(bl.plot.lines{ series = series, title = "accuracy over BER", xlabel = "BER",
                     ylabel = "accuracy", width = 64, height = 16 })
local ste, exact = at["fc-p0.1@0.1"], at["fc-p0.1-exact@0.1"]
print(string.format("p_train = 0.1 at BER 0.1: flip-ste %.4f, flip-exact %.4f -> %s", ste, exact,
      ste < exact and "flip-ste adapts less" or "flip-ste adapts at least as well"))
print("wrote bft_curves.csv")
