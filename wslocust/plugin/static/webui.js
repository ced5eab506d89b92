// wslocust's additions to Locust's web UI, served as /wslocust/webui.js and loaded by the page.
//
// Form: the "Custom parameters" fields get their command-line flag as label, their help below, and
// are ordered in groups (CSS order and a data attribute; no node of React's is moved or added). With
// --class-picker, the shape given by --shape is preselected. Chatbot tab: live SVG charts of the
// per-second history (/wslocust/charts.json: which charts to draw, with the keys of their lines, and
// the values; the keys are the server's). No network access but this page's own server.
(function () {
  "use strict";
  const form = (window.templateArgs || {}).wslocust_form || { fields: [], shape_class: null };
  const SVG = "http://www.w3.org/2000/svg";
  const POLL_MS = 2000;
  const preselected = new WeakSet();

  function fieldWrapper(input, container) {
    let node = input;
    while (node.parentElement && node.parentElement !== container) node = node.parentElement;
    return node.parentElement === container ? node : null;
  }

  function setText(node, text) {
    if (node && node.textContent !== text) node.textContent = text;
  }

  function arrangeForm() {
    const inputs = form.fields
      .map((field) => [field, document.querySelector(`[name="${field.name}"]`)])
      .filter(([, input]) => input);
    if (inputs.length < 2) return;
    let container = inputs[0][1].parentElement;
    while (container && !inputs.every(([, input]) => container.contains(input))) container = container.parentElement;
    if (!container || container.dataset.wslocustForm === String(inputs.length)) return;
    container.dataset.wslocustForm = String(inputs.length);
    let group = null;
    inputs.forEach(([field, input], index) => {
      const wrapper = fieldWrapper(input, container);
      if (!wrapper) return;
      wrapper.style.order = String(index + 1);
      wrapper.classList.add("wslocust-field");
      wrapper.dataset.wslocustHelp = field.help;
      if (field.group !== group) wrapper.dataset.wslocustGroup = field.group;
      group = field.group;
      setText(wrapper.querySelector("label.MuiInputLabel-root, .MuiFormControlLabel-label"), field.label);
      setText(wrapper.querySelector("legend > span"), field.label);
    });
  }

  function preselectShape() {
    const select = document.querySelector('select[name="shapeClass"]');
    if (!select || !form.shape_class || preselected.has(select)) return;
    preselected.add(select);
    if (![...select.options].some((option) => option.value === form.shape_class)) return;
    select.value = form.shape_class;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function svg(tag, attributes, parent) {
    const node = document.createElementNS(SVG, tag);
    Object.entries(attributes).forEach(([key, value]) => node.setAttribute(key, String(value)));
    if (parent) parent.appendChild(node);
    return node;
  }

  function clock(timestamp) {
    return new Date(timestamp * 1000).toTimeString().slice(0, 8);
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    return [1, 2, 2.5, 5, 10].map((step) => step * power).find((limit) => limit >= value);
  }

  function drawChart(chart, data) {
    const width = 420, height = 200, left = 52, right = 12, top = 30, bottom = 26;
    const plotWidth = width - left - right, plotHeight = height - top - bottom;
    const times = data.timestamps;
    const values = chart.lines.map((line) => data.series[line.key] || []);
    const yMax = niceMax(Math.max(0, ...values.flat().filter((value) => value !== null)));
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "wslocust-chart", "data-ymax": yMax });
    svg("text", { x: left, y: 16, class: "wslocust-chart-title" }, root).textContent = chart.title;
    svg("rect", { x: left, y: top, width: plotWidth, height: plotHeight, class: "wslocust-chart-plot" }, root);
    [0, 0.5, 1].forEach((share) => {
      const y = top + plotHeight * (1 - share);
      svg("line", { x1: left, x2: left + plotWidth, y1: y, y2: y, class: "wslocust-chart-grid" }, root);
      svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "wslocust-chart-axis" }, root).textContent = String(+(yMax * share).toPrecision(3));
    });
    const first = times[0], last = times[times.length - 1];
    const span = Math.max(last - first, 1);
    if (times.length) {
      svg("text", { x: left, y: height - 8, class: "wslocust-chart-axis" }, root).textContent = clock(first);
      svg("text", { x: left + plotWidth, y: height - 8, "text-anchor": "end", class: "wslocust-chart-axis" }, root).textContent = clock(last);
    }
    chart.lines.forEach(({ key, legend, color }, index) => {
      const points = [];
      times.forEach((time, at) => {
        const value = values[index][at];
        if (value === null || value === undefined) return;
        const x = left + (plotWidth * (time - first)) / span;
        const y = top + plotHeight * (1 - value / yMax);
        points.push(`${x.toFixed(2)},${y.toFixed(2)}`);
      });
      svg("polyline", {
        points: points.join(" "), stroke: color, class: "wslocust-chart-line",
        "data-key": key, "data-timestamps": JSON.stringify(times), "data-values": JSON.stringify(values[index]),
      }, root);
      const legendX = left + plotWidth - 150 + index * 75;
      svg("rect", { x: legendX, y: 7, width: 12, height: 4, fill: color }, root);
      svg("text", { x: legendX + 16, y: 13, class: "wslocust-chart-axis" }, root).textContent = legend;
    });
    return root;
  }

  const TABLES = ["voice", "conversations", "lifecycle"]; // the tables charts.json may carry, in order

  function drawTable(name, data) {
    const table = document.createElement("table");
    table.className = "wslocust-table";
    table.id = `wslocust-${name}`;
    table.createCaption().textContent = data.title;
    const head = table.createTHead().insertRow();
    for (const column of data.columns) {
      const cell = document.createElement("th");
      cell.textContent = column.title;
      head.appendChild(cell);
    }
    const body = table.createTBody();
    for (const row of data.rows) {
      const line = body.insertRow();
      for (const column of data.columns) line.insertCell().textContent = String(row[column.key] ?? "");
    }
    return table;
  }

  let charts = null;
  let polling = null;

  function chatbotTable() {
    const tab = document.querySelector('[role="tab"][aria-selected="true"]');
    if (!tab || tab.textContent.trim() !== "Chatbot") return null;
    const tables = [...document.querySelectorAll("table")].filter((table) => table.offsetParent !== null);
    return tables.length ? tables[tables.length - 1] : null;
  }

  async function refreshCharts() {
    if (!charts || !document.contains(charts)) return;
    try {
      const response = await fetch("./wslocust/charts.json", { cache: "no-store" });
      const data = await response.json();
      const drawn = data.charts.map((chart) => drawChart(chart, data));
      if (data.capacity) {
        // a capacity search: its verdict so far, and one line a level measured
        const status = document.createElement("div");
        status.className = "wslocust-capacity";
        status.id = "wslocust-capacity";
        const verdict = document.createElement("p");
        verdict.textContent = data.capacity.message;
        status.appendChild(verdict);
        for (const level of data.capacity.levels) {
          const line = document.createElement("div");
          line.textContent = `level ${level.level}: ${level.target} ${data.capacity.unit}, ${level.achieved_rate_per_s} replies/s, ` +
            `E2E p${level.percentile} ${level.e2e_ms ?? "-"} ms, TTFT ${level.ttft_ms ?? "-"} ms: ${level.verdict}${level.reason ? " (" + level.reason + ")" : ""}`;
          status.appendChild(line);
        }
        drawn.unshift(status);
      }
      for (const name of TABLES) {
        // the run's voice turns, conversations and connections' lives, when it has them
        if (data[name]) drawn.push(drawTable(name, data[name]));
      }
      charts.replaceChildren(...drawn);
      charts.dataset.updated = String(Date.now());
    } catch (error) {
      charts.dataset.error = String(error);
    }
  }

  function placeCharts() {
    const table = chatbotTable();
    if (!table) return;
    let anchor = table;
    while (anchor.parentElement && anchor.parentElement.querySelectorAll("table").length === 1 && anchor.parentElement.childElementCount === 1) {
      anchor = anchor.parentElement;
    }
    if (charts && document.contains(charts) && charts.nextElementSibling === anchor) return;
    charts = charts || document.createElement("div");
    charts.id = "wslocust-charts";
    anchor.parentElement.insertBefore(charts, anchor);
    refreshCharts();
    if (!polling) polling = setInterval(refreshCharts, POLL_MS);
  }

  function update() {
    arrangeForm();
    preselectShape();
    placeCharts();
  }

  let scheduled = false;
  new MutationObserver(() => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => {
      scheduled = false;
      update();
    }, 0);
  }).observe(document.documentElement, { childList: true, subtree: true });
  update();
  setInterval(update, 1000); // also when a change was missed (a hidden page's timers are throttled)
})();
