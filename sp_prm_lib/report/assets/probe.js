(function () {
  var root = document.getElementById("__ID__");
  if (!root || root.dataset.ready) { return; }
  root.dataset.ready = "1";
  var data = JSON.parse(root.querySelector("script[data-role=data]").textContent);
  var pick = root.querySelector("[data-role=pair]");
  var slider = root.querySelector("[data-role=slider]");
  function q(sel) { return root.querySelector(sel); }
  function fmt(x) { return (x >= 0 ? "+" : "\u2212") + Math.abs(x).toFixed(3); }
  function word(d, labels) { return d > 0 ? labels[0] : (d < 0 ? labels[1] : "tie"); }
  data.pairs.forEach(function (p, i) {
    var o = document.createElement("option");
    o.value = String(i); o.textContent = p.title; pick.appendChild(o);
  });
  function render() {
    var p = data.pairs[Number(pick.value)], t = Number(slider.value);
    q("[data-role=t]").textContent = String(t);
    q("[data-role=unit]").textContent = p.unit + " (A: " + p.lengths[0] + ", B: " + p.lengths[1] + ")";
    q("[data-role=prompt]").textContent = p.prompt;
    [0, 1].forEach(function (s) {
      var n = Math.min(t, p.lengths[s]), end = p.ends[s][n];
      q("[data-role=label-" + s + "]").textContent = p.labels[s];
      q("[data-role=head-" + s + "]").textContent = p.labels[s] + "[:t]";
      q("[data-role=count-" + s + "]").textContent = n + "/" + p.lengths[s] + " tokens";
      q("[data-role=prefix-" + s + "]").textContent = p.responses[s].slice(0, end);
      q("[data-role=rest-" + s + "]").textContent = p.responses[s].slice(end);
    });
    data.rms.forEach(function (rm, k) {
      var sc = p.scores[rm], a = sc[0][Math.min(t, p.lengths[0])], b = sc[1][Math.min(t, p.lengths[1])];
      var same = p.same.charAt(t) === "1", agree = p.agree[rm].charAt(t) === "1";
      var row = root.querySelectorAll("tr[data-rm]")[k];
      row.querySelector("[data-side=a]").textContent = fmt(a);
      row.querySelector("[data-side=b]").textContent = fmt(b);
      row.querySelector("[data-role=at-t]").textContent = word(same ? 0 : a - b, p.labels);
      row.querySelector("[data-role=full]").textContent = word(p.full[rm], p.labels);
      var cell = row.querySelector("[data-role=agree]");
      cell.textContent = agree ? "yes" : "no";
      cell.className = agree ? "spprm-yes" : "spprm-no";
    });
  }
  function choose() {
    var p = data.pairs[Number(pick.value)];
    slider.max = String(p.max_t);
    slider.value = String(Math.max(1, Math.floor(p.max_t / 2)));
    render();
  }
  pick.addEventListener("change", choose);
  slider.addEventListener("input", render);
  slider.addEventListener("change", render);
  choose();
})();
