using Spectre.Console;

namespace XenIac.Cli;

/// <summary>
/// A progress bar with bytes and rate for one long operation, drawn on stderr when stderr is a terminal; silent
/// otherwise, so scripts that read stdout (or log stderr) get only the result lines.
/// </summary>
internal static class ByteProgress
{
    public static async Task<T> RunAsync<T>(string label, long? expectedBytes, Func<IProgress<long>?, Task<T>> operation)
    {
        if (Console.IsErrorRedirected) return await operation(null);
        var console = TerminalText.StandardError();
        T result = default!;
        await console.Progress()
            .AutoClear(true)
            .Columns(Columns())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(label), maxValue: Math.Max(1, expectedBytes ?? 1));
                if (expectedBytes is null) task.IsIndeterminate = true;
                // Reported synchronously from the worker: the bar only reads the latest value.
                var progress = new Reporter(bytes =>
                {
                    task.MaxValue = Math.Max(task.MaxValue, bytes);
                    task.Value = bytes;
                });
                result = await operation(progress);
                task.Value = task.MaxValue;
            });
        return result;
    }

    /// <summary>The columns of every byte progress bar: what, bar, percent, bytes, rate, elapsed.</summary>
    public static ProgressColumn[] Columns() =>
        [new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new ElapsedTimeColumn()];

    private sealed class Reporter(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
