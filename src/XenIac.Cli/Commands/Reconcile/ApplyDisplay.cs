using Spectre.Console;
using XenIac.Reconciler.Applying;

namespace XenIac.Cli.Commands.Reconcile;

/// <summary>How <c>apply</c> shows its progress while it runs: lines for logs, or live bars for a terminal.</summary>
internal abstract class ApplyDisplay
{
    public abstract Task<ApplyResult> RunAsync(Func<IProgress<ApplyEvent>, Task<ApplyResult>> apply);

    /// <summary>One line per event: what CI logs want (no cursor tricks, nothing overwritten).</summary>
    public sealed class Lines(TextWriter output) : ApplyDisplay, IProgress<ApplyEvent>
    {
        private readonly Dictionary<string, long> _lastReported = new();

        public override Task<ApplyResult> RunAsync(Func<IProgress<ApplyEvent>, Task<ApplyResult>> apply) => apply(this);

        public void Report(ApplyEvent e)
        {
            lock (_lastReported)
            {
                switch (e)
                {
                    case StepStarted s:
                        _lastReported[s.Domain] = 0;
                        break;
                    // A line every 256 MiB: enough to see a save moving, few enough for a log.
                    case StepProgress p when p.Bytes - _lastReported.GetValueOrDefault(p.Domain) >= 256L << 20:
                        _lastReported[p.Domain] = p.Bytes;
                        break;
                    case StepProgress:
                        return;
                }
                if (ApplyEventText.Line(e) is { } line) output.WriteLine(line);
            }
        }
    }

    /// <summary>Live progress bars with bytes and rate, for people at a terminal.</summary>
    public sealed class Live : ApplyDisplay
    {
        public override async Task<ApplyResult> RunAsync(Func<IProgress<ApplyEvent>, Task<ApplyResult>> apply)
        {
            ApplyResult? result = null;
            // Confirmation happens inside apply (under the lock, after a fresh plan), so the bars only start once
            // the first step does; before that the console belongs to the prompt.
            var sink = new Sink();
            var run = apply(sink);
            await Task.WhenAny(sink.FirstStep.Task, run);
            if (run.IsCompleted) return await run;
            await AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(ByteProgress.Columns())
                .StartAsync(async ctx =>
                {
                    sink.Attach(ctx);
                    result = await run;
                });
            return result!;
        }

        private sealed class Sink : IProgress<ApplyEvent>
        {
            private readonly Dictionary<string, ProgressTask> _tasks = new();
            private readonly List<ApplyEvent> _pending = [];
            private ProgressContext? _context;

            public TaskCompletionSource FirstStep { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public void Attach(ProgressContext context)
            {
                lock (_tasks)
                {
                    _context = context;
                    foreach (var e in _pending) Apply(e);
                    _pending.Clear();
                }
            }

            public void Report(ApplyEvent e)
            {
                FirstStep.TrySetResult();
                lock (_tasks)
                {
                    if (_context is null) _pending.Add(e);
                    else Apply(e);
                }
            }

            private void Apply(ApplyEvent e)
            {
                switch (e)
                {
                    // Steps that move no bytes (create, destroy) get no bar; the summary after the bars lists them.
                    case StepStarted { ExpectedBytes: null or 0 } s:
                        _tasks.Remove(s.Domain);
                        break;
                    case StepStarted s:
                        _tasks[s.Domain] = _context!.AddTask($"{Markup.Escape(s.Domain)}: {ApplyEventText.ActionName(s.Step)}", maxValue: s.ExpectedBytes!.Value);
                        break;
                    case StepProgress p when _tasks.TryGetValue(p.Domain, out var t):
                        // The expectation is an estimate (a save writes a little more than the memory): grow, never overflow.
                        t.MaxValue = Math.Max(t.MaxValue, p.Bytes);
                        t.Value = p.Bytes;
                        break;
                    case StepCompleted c when _tasks.TryGetValue(c.Domain, out var t):
                        t.Value = t.MaxValue;
                        t.StopTask();
                        break;
                    case DomainFailed f when _tasks.TryGetValue(f.Domain, out var t):
                        t.Description = $"{Markup.Escape(f.Domain)}: [red]failed[/]";
                        t.StopTask();
                        break;
                }
            }
        }
    }
}
