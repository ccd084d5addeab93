using System.Globalization;

namespace XenIac.Bench;

/// <summary>
/// Issue 19, as a user runs it: every figure is a whole <c>xen-iac</c> process with its default output, against the
/// shell tool doing the same bytes' worth of work in the same run. The data is one embedded domain of SizeBytes
/// (random memory, so nothing compresses or is skipped), saved once; each row is the best of Repeats.
/// </summary>
public sealed class CliStreamingBenchmark : IBenchmark
{
    public string Name => "cli-stream";
    public string Description => "whole xen-iac processes on a SizeBytes savefile: image through the reader (file, pipe), set-config, convert, embedded save and restore vs cat/cp/cp+sync (targets: >= 0.9, <= 1.2x time, >= 0.9)";

    public async Task RunAsync(BenchContext context)
    {
        var mib = context.SizeBytes >> 20;
        var dir = Path.Combine(context.WorkDir, "cli-stream");
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        Directory.CreateDirectory(dir);
        string P(string name) => Path.Combine(dir, name);
        var tool = BenchContext.Tool;
        var host = $"embedded:{P("host")}";
        Console.WriteLine($"tool: {BenchContext.ToolKind}; {mib} MiB domain");

        // A domain whose memory is a file of random bytes (restored from a savefile with random pages), so a save reads
        // and writes like cp does.
        File.WriteAllText(P("big.cfg"), $"name = \"big\"\ntype = \"hvm\"\nmemory = {mib}\nvcpus = 1\n");
        File.WriteAllText(P("big2.cfg"), $"name = \"big\"\ntype = \"hvm\"\nmemory = {mib}\nvcpus = 1\non_crash = \"preserve\"\n");
        Run(context, $"{tool} domain create '{P("big.cfg")}' --host {host} > /dev/null");
        Run(context, $"{tool} domain save big '{P("big.xlsave")}' --host {host} > /dev/null");
        Run(context, $"{tool} domain restore '{P("big.xlsave")}' --host {host} > /dev/null");
        var file = P("big.xlsave");
        var bytes = new FileInfo(file).Length;

        // The image through the reader, to standard output: from a file, and from a pipe. Onto /dev/null the kernel
        // discards what it is sent without copying it, so the same conversion into a pipe read by cat is timed too:
        // there the bytes reach another process, as they do in `convert - | ssh ...`.
        var cat = Best(context, $"cat '{file}' > /dev/null");
        var convert = Best(context, $"{tool} savefile convert '{file}' --to legacy - 2>/dev/null > /dev/null");
        Report("image through the reader, file -> stdout (savefile convert --to legacy -)", convert, cat, "cat > /dev/null", ">= 0.90", bytes, higherIsBetter: true);
        var catPipe = Best(context, $"cat '{file}' | cat > /dev/null");
        var convertPipe = Best(context, $"{tool} savefile convert '{file}' --to legacy - 2>/dev/null | cat > /dev/null");
        Report("image through the reader, file -> pipe (savefile convert --to legacy - | cat)", convertPipe, catPipe, "cat | cat > /dev/null", ">= 0.90", bytes, higherIsBetter: true);
        var verifyPipe = Best(context, $"cat '{file}' | {tool} savefile verify - > /dev/null");
        Report("image through the reader from a pipe (cat | savefile verify -)", verifyPipe, catPipe, "cat | cat > /dev/null", ">= 0.90", bytes, higherIsBetter: true);

        // Rewrites: a new file beside the old, fsynced, renamed over it; cp + sync moves the same bytes to disk. Every
        // timed run, ours and the reference, replaces a file of the same size (set-config always replaces its input,
        // and freeing a big file's blocks costs about as much as writing them on this disk): so each command below
        // that writes a file runs once untimed first, or its first run, with nothing to replace, would be the best.
        var cpSyncCommand = $"rm -f '{P("copy")}'; cp '{file}' '{P("copy")}' && sync '{P("copy")}'";
        Run(context, cpSyncCommand);
        var cpSync = Best(context, cpSyncCommand);
        var setConfig = Best(context, $"cp '{file}' '{P("work.xlsave")}' && sync '{P("work.xlsave")}' && " +
            $"{tool} savefile set-config '{P("work.xlsave")}' '{P("big2.cfg")}' > /dev/null", prepare: true);
        Report("savefile set-config (cp of the input excluded)", setConfig, cpSync, "cp+sync", "time <= 1.2x", bytes, higherIsBetter: false);
        var convertCommand = $"rm -f '{P("be.xlsave")}'; {tool} savefile convert '{file}' '{P("be.xlsave")}' --byte-order big > /dev/null";
        Run(context, convertCommand);
        var convertFile = Best(context, convertCommand);
        Report("savefile convert to a file (byte order)", convertFile, cpSync, "cp+sync", "time <= 1.2x", bytes, higherIsBetter: false);

        // The embedded host: save of a domain whose memory is a file, restore of the savefile.
        var saveCommand = $"{tool} domain save big '{P("again.xlsave")}' --checkpoint --host {host} > /dev/null";
        Run(context, saveCommand);
        var save = Best(context, saveCommand);
        Report("embedded domain save --checkpoint", save, cpSync, "cp+sync", ">= 0.90", bytes, higherIsBetter: true);
        var restore = Best(context, $"{tool} domain destroy big --host {host} > /dev/null && {tool} domain restore '{file}' --host {host} > /dev/null", prepare: true);
        Report("embedded domain restore (the destroy before it excluded)", restore, cpSync, "cp+sync", ">= 0.90", bytes, higherIsBetter: true);
        Directory.Delete(dir, true);
    }

    private static void Run(BenchContext context, string command)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("bash", ["-c", command]) { UseShellExecute = false })!;
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"'{command}' exited with {p.ExitCode}");
    }

    /// <summary>
    /// Best of Repeats; with <paramref name="prepare"/> the command's part before the last '&amp;&amp;' is setup, timed
    /// separately and taken off (a rewrite needs a fresh input each time).
    /// </summary>
    private static TimeSpan Best(BenchContext context, string command, bool prepare = false)
    {
        if (!prepare) return context.TimeShell(command);
        var split = command.LastIndexOf(" && ", StringComparison.Ordinal);
        var (setup, timed) = (command[..split], command[(split + 4)..]);
        var best = TimeSpan.MaxValue;
        for (var i = 0; i < context.Repeats; i++)
        {
            Run(context, setup);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Run(context, timed);
            if (clock.Elapsed < best) best = clock.Elapsed;
        }
        return best;
    }

    private static void Report(string what, TimeSpan ours, TimeSpan baseline, string baselineName, string target, long bytes, bool higherIsBetter)
    {
        var ratio = higherIsBetter ? baseline.TotalSeconds / ours.TotalSeconds : ours.TotalSeconds / baseline.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what}: {ours.TotalSeconds:F3} s ({BenchContext.Rate(bytes, ours)}) vs {baselineName} {baseline.TotalSeconds:F3} s: " +
            $"{(higherIsBetter ? "throughput ratio" : "time ratio")} {ratio:F2} (target {target})"));
    }
}
