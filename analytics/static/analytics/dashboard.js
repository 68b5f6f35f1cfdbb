/* Draws the dashboard's charts from the adoption report embedded by the page (json_script).
 * Served as a file, not inline, so a Content-Security-Policy of script-src 'self' works. */
(function () {
  "use strict";

  var source = document.getElementById("adoption-report");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  var report = JSON.parse(source.textContent);
  var days = report.days;

  var COLORS = {
    indigo: "#4f46e5",
    teal: "#0d9488",
    amber: "#d97706",
    rose: "#e11d48",
    slate: "#94a3b8",
    sky: "#0284c7",
    violet: "#7c3aed",
    emerald: "#059669",
    orange: "#ea580c",
    pink: "#db2777",
  };
  var SERIES = [
    COLORS.indigo, COLORS.teal, COLORS.amber, COLORS.sky, COLORS.rose,
    COLORS.violet, COLORS.emerald, COLORS.orange, COLORS.pink, COLORS.slate,
  ];
  var numbers = new Intl.NumberFormat("en-US");

  function percent(fraction) {
    return (fraction * 100).toFixed(1) + " %";
  }

  function total(name) {
    return days.reduce(function (sum, day) { return sum + day[name]; }, 0);
  }

  function dayLabel(iso) {
    // Report days are UTC days: format them in UTC so no time zone shifts a label.
    return new Date(iso + "T00:00:00Z").toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" });
  }

  function axisTitle(text) {
    return { display: true, text: text, color: "#64748b", font: { weight: "600" } };
  }

  function withAlpha(hex, alpha) {
    var value = parseInt(hex.slice(1), 16);
    return "rgba(" + (value >> 16) + "," + ((value >> 8) & 255) + "," + (value & 255) + "," + alpha + ")";
  }

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) {
      new Chart(canvas, config);
    }
  }

  Chart.defaults.font.family = window.getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 12;
  Chart.defaults.color = "#475569";
  Chart.defaults.borderColor = "#e2e8f0";
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false; // figures, not motion: and the page is drawn once it loads
  Chart.defaults.plugins.legend.labels.boxWidth = 12;
  Chart.defaults.plugins.legend.labels.boxHeight = 12;
  Chart.defaults.plugins.tooltip.backgroundColor = "#0f172a";

  var labels = days.map(function (day) { return dayLabel(day.date); });

  draw("chart-rates", {
    type: "line",
    data: {
      labels: labels,
      datasets: [
        {
          label: "Adoption rate",
          data: days.map(function (day) { return day.adoption_rate * 100; }),
          borderColor: COLORS.indigo,
          backgroundColor: COLORS.indigo,
          fill: { target: "origin", above: withAlpha(COLORS.indigo, 0.1) },
          tension: 0.25,
          pointRadius: days.length > 45 ? 0 : 3,
        },
        {
          label: "Passkey sign-in rate",
          data: days.map(function (day) { return day.passkey_sign_in_rate * 100; }),
          borderColor: COLORS.teal,
          backgroundColor: COLORS.teal,
          tension: 0.25,
          pointRadius: days.length > 45 ? 0 : 3,
        },
      ],
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: {
        y: {
          min: 0,
          max: 100,
          title: axisTitle("Share"),
          ticks: { callback: function (value) { return value + " %"; } },
        },
        x: { title: axisTitle("Day (UTC)"), ticks: { maxRotation: 0, autoSkipPadding: 12 } },
      },
      plugins: {
        legend: { position: "bottom" },
        tooltip: {
          callbacks: {
            label: function (item) { return item.dataset.label + ": " + item.parsed.y.toFixed(1) + " %"; },
          },
        },
      },
    },
  });

  draw("chart-sign-ins", {
    type: "bar",
    data: {
      labels: labels,
      datasets: [
        {
          label: "Passkey",
          data: days.map(function (day) { return day.passkey_sign_ins; }),
          backgroundColor: COLORS.teal,
        },
        {
          label: "Other methods",
          data: days.map(function (day) { return day.sign_ins - day.passkey_sign_ins; }),
          backgroundColor: COLORS.slate,
        },
      ],
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { stacked: true, title: axisTitle("Day (UTC)"), ticks: { maxRotation: 0, autoSkipPadding: 8 } },
        y: { stacked: true, beginAtZero: true, title: axisTitle("Sign-ins"), ticks: { precision: 0 } },
      },
      plugins: { legend: { position: "bottom" } },
    },
  });

  function funnel(id, axis, steps) {
    var first = steps[0][1];
    draw(id, {
      type: "bar",
      data: {
        labels: steps.map(function (step) { return step[0]; }),
        datasets: [
          {
            label: axis,
            data: steps.map(function (step) { return step[1]; }),
            backgroundColor: steps.map(function (step) { return step[2]; }),
            borderRadius: 4,
            maxBarThickness: 64,
          },
        ],
      },
      options: {
        scales: {
          y: { beginAtZero: true, title: axisTitle(axis), ticks: { precision: 0 } },
          x: { grid: { display: false } },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (item) {
                var share = first ? " (" + percent(item.parsed.y / first) + " of " + steps[0][0].toLowerCase() + ")" : "";
                return numbers.format(item.parsed.y) + share;
              },
            },
          },
        },
      },
    });
  }

  funnel("chart-registrations", "Registrations", [
    ["Started", total("registrations_started"), COLORS.slate],
    ["Completed", total("registrations_completed"), COLORS.indigo],
  ]);
  funnel("chart-authentications", "Passkey sign-ins", [
    ["Started", total("authentications_started"), COLORS.slate],
    ["Completed", total("authentications_completed"), COLORS.teal],
    ["Failed", total("authentication_failures"), COLORS.rose],
  ]);
  funnel("chart-nudges", "Prompts", [
    ["Shown", total("nudges_shown"), COLORS.slate],
    ["Accepted", total("nudges_accepted"), COLORS.emerald],
    ["Dismissed", total("nudges_dismissed"), COLORS.amber],
  ]);

  function shareLabel(item) {
    var values = item.dataset.data;
    var sum = values.reduce(function (a, b) { return a + b; }, 0);
    var value = item.raw;
    return " " + numbers.format(value) + " (" + percent(sum ? value / sum : 0) + ")";
  }

  function doughnut(id, counts) {
    var names = Object.keys(counts);
    draw(id, {
      type: "doughnut",
      data: {
        labels: names,
        datasets: [
          {
            label: "Passkey sign-ins",
            data: names.map(function (name) { return counts[name]; }),
            backgroundColor: names.map(function (_, i) { return SERIES[i % SERIES.length]; }),
            borderColor: "#ffffff",
            borderWidth: 2,
          },
        ],
      },
      options: {
        cutout: "58%",
        plugins: {
          legend: { position: "right" },
          tooltip: { callbacks: { label: shareLabel } },
        },
      },
    });
  }

  doughnut("chart-os", report.breakdowns.os);
  doughnut("chart-browser", report.breakdowns.browser);

  var providers = Object.keys(report.breakdowns.provider);
  draw("chart-provider", {
    type: "bar",
    data: {
      labels: providers,
      datasets: [
        {
          label: "Passkey sign-ins",
          data: providers.map(function (name) { return report.breakdowns.provider[name]; }),
          backgroundColor: providers.map(function (_, i) { return SERIES[i % SERIES.length]; }),
          borderRadius: 4,
          maxBarThickness: 28,
        },
      ],
    },
    options: {
      indexAxis: "y",
      scales: {
        x: { beginAtZero: true, title: axisTitle("Passkey sign-ins"), ticks: { precision: 0 } },
        y: { grid: { display: false } },
      },
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: shareLabel } },
      },
    },
  });
})();
