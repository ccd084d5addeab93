using System.Diagnostics;
using XenIac.Core.Config;
using XenIac.Hosts;
using XenIac.Hosts.Embedded;
using XenIac.Hosts.Remote;
using XenIac.Tests;

namespace XenIac.Bench;

/// <summary>
/// Issue 14: restoring a savefile on an <c>ssh://</c> host (the bytes stream over the ssh channel into the remote's
/// streamed restore) against <c>ssh HOST cat FILE &gt; /dev/null</c> (the same bytes over the same channel, nothing
/// done with them). The remote is an embedded host behind a loopback sshd this benchmark starts (keys made per run),
/// or $XENIAC_BENCH_SSH_HOST (an ssh destination your own config reaches, with the tool under test there as
/// $XENIAC_BENCH_SSH_COMMAND, default xen-iac). Target: throughput ratio ≥ 0.9.
/// </summary>
public sealed class SshRestoreBenchmark : IBenchmark
{
    public string Name => "ssh-restore";
    public string Description => "restore of a SizeBytes savefile on ssh://localhost vs ssh localhost cat FILE > /dev/null (target ratio >= 0.9)";

    public async Task RunAsync(BenchContext context)
    {
        var mib = context.SizeBytes >> 20;
        var dir = Path.Combine(context.WorkDir, "ssh-restore");
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        Directory.CreateDirectory(dir);

        // The savefile: a domain of SizeBytes saved by a local embedded host, memory from a file (non-repeating data).
        var savefile = Path.Combine(dir, "big.xlsave");
        await using (var local = EmbeddedHost.Open(Path.Combine(dir, "local")))
        {
            await local.CreateAsync(ConfigText.FromText($"name = \"big\"\ntype = \"hvm\"\nmemory = {mib}\nvcpus = 1\n"));
            await local.SaveAsync("big", savefile, SaveOptions.Default);
        }
        var bytes = new FileInfo(savefile).Length;

        await using var sshd = new LoopbackSshd();
        string destination, sshCommand, remoteCommand;
        if (Environment.GetEnvironmentVariable("XENIAC_BENCH_SSH_HOST") is { Length: > 0 } given)
        {
            (destination, sshCommand, remoteCommand) = (given, Environment.GetEnvironmentVariable(SshTarget.CommandVariable) ?? "ssh",
                Environment.GetEnvironmentVariable("XENIAC_BENCH_SSH_COMMAND") ?? "xen-iac");
        }
        else
        {
            await sshd.StartAsync();
            if (sshd.SkipReason is not null)
            {
                Console.WriteLine($"skipped: {sshd.SkipReason}");
                return;
            }
            (destination, sshCommand, remoteCommand) = (LoopbackSshd.Alias, sshd.SshCommand, sshd.RemoteTool);
        }
        Environment.SetEnvironmentVariable(SshTarget.CommandVariable, sshCommand);
        // On disk, as the embedded host keeps a domain's memory: a folder in RAM (/dev/shm) was slower here, since
        // every new tmpfs page costs a fault in this VM where the disk writes take the bytes by DMA.
        var remoteFolder = Path.Combine(dir, "remote");
        var spec = $"ssh://{destination}?host=embedded:{remoteFolder}&command={Uri.EscapeDataString(remoteCommand)}";
        Console.WriteLine($"remote: {spec} ({BenchContext.ToolKind}); savefile {bytes >> 20} MiB");

        var cat = context.TimeShell($"{sshCommand} {destination} cat '{savefile}' > /dev/null");
        // The other direction, as a restore sends: the same bytes into ssh's standard input, thrown away on the remote.
        var upload = context.TimeShell($"{sshCommand} {destination} 'cat > /dev/null' < '{savefile}'");
        Console.WriteLine($"ssh cat > /dev/null {cat.TotalSeconds:F3} s ({BenchContext.Rate(bytes, cat)}); upload, ssh 'cat > /dev/null' < FILE {upload.TotalSeconds:F3} s ({BenchContext.Rate(bytes, upload)})");

        // The same restore on a local embedded host: what the remote does with the bytes, without ssh or the protocol.
        var direct = TimeSpan.MaxValue;
        await using (var here = EmbeddedHost.Open(Path.Combine(dir, "here")))
        {
            for (var i = 0; i < context.Repeats; i++)
            {
                var sw = Stopwatch.StartNew();
                await here.RestoreAsync(savefile, RestoreOptions.Default);
                sw.Stop();
                if (sw.Elapsed < direct) direct = sw.Elapsed;
                await here.DestroyAsync("big");
            }
        }
        Console.WriteLine($"local embedded restore of the same savefile (no ssh): {direct.TotalSeconds:F3} s ({BenchContext.Rate(bytes, direct)})");

        // Cold: a new connection per restore, as one `xen-iac domain restore --host ssh://…` does.
        var cold = TimeSpan.MaxValue;
        for (var i = 0; i < context.Repeats; i++)
        {
            await using var host = HostSpec.Parse(spec).Open();
            var sw = Stopwatch.StartNew();
            await host.RestoreAsync(savefile, RestoreOptions.Default);
            sw.Stop();
            if (sw.Elapsed < cold) cold = sw.Elapsed;
            await host.DestroyAsync("big");
        }
        context.Report($"restore of a {mib} MiB savefile over ssh, new connection", cold, cat, "ssh cat > /dev/null", "throughput >= 0.9", bytes, 0);

        // What a user runs: the whole `xen-iac domain restore --host ssh://…` process (start, connect, stream, verify
        // and write on the remote, default output), against the same baseline. The destroy between runs is not timed.
        var cli = TimeSpan.MaxValue;
        await using (var admin = HostSpec.Parse(spec).Open())
        {
            for (var i = 0; i < context.Repeats; i++)
            {
                var sw = Stopwatch.StartNew();
                using (var p = Process.Start(new ProcessStartInfo("bash", ["-c", $"{BenchContext.Tool} domain restore '{savefile}' --host '{spec}' > /dev/null"]) { UseShellExecute = false })!)
                {
                    await p.WaitForExitAsync();
                    sw.Stop();
                    if (p.ExitCode != 0) throw new InvalidOperationException($"the CLI restore over ssh exited with {p.ExitCode}");
                }
                if (sw.Elapsed < cli) cli = sw.Elapsed;
                await admin.DestroyAsync("big");
            }
        }
        context.Report($"xen-iac domain restore --host ssh://… of a {mib} MiB savefile (whole process)", cli, cat, "ssh cat > /dev/null", "throughput >= 0.9", bytes, 0);
        // Where the time goes on a small machine: ssh and sshd encrypt and decrypt on the same cores the restore parses
        // and writes on. One more run of each, with the machine's busy and idle CPU-seconds.
        await using (var admin = HostSpec.Parse(spec).Open())
        {
            BenchContext.PrintMachineCpu("ssh cat > /dev/null", $"{sshCommand} {destination} cat '{savefile}' > /dev/null");
            BenchContext.PrintMachineCpu("the whole restore over ssh", $"{BenchContext.Tool} domain restore '{savefile}' --host '{spec}' > /dev/null");
            await admin.DestroyAsync("big");
        }
        var localHost = Path.Combine(dir, "here-cli");
        BenchContext.PrintMachineCpu("the same restore on a local embedded host (no ssh)",
            $"{BenchContext.Tool} domain restore '{savefile}' --host 'embedded:{localHost}' > /dev/null 2>&1");
        var list = context.TimeShell($"{BenchContext.Tool} domain list --host '{spec}' > /dev/null");
        var sshTrue = context.TimeShell($"{sshCommand} {destination} true");
        Console.WriteLine($"connection cost: xen-iac domain list --host ssh://… {list.TotalSeconds:F3} s; {sshCommand.Split(' ')[0]} {destination} true {sshTrue.TotalSeconds:F3} s");

        // Warm: one connection, restores only (what an apply's steps on one host share).
        await using (var host = HostSpec.Parse(spec).Open())
        {
            await host.GetHostInfoAsync();
            var warm = TimeSpan.MaxValue;
            for (var i = 0; i < context.Repeats; i++)
            {
                var sw = Stopwatch.StartNew();
                await host.RestoreAsync(savefile, RestoreOptions.Default);
                sw.Stop();
                if (sw.Elapsed < warm) warm = sw.Elapsed;
                await host.DestroyAsync("big");
            }
            context.Report($"restore of a {mib} MiB savefile over ssh, connection open", warm, cat, "ssh cat > /dev/null", "throughput >= 0.9", bytes, 0);
        }

        // The remote host writes the domain's memory file to its disk (around the page cache) and syncs it: the same
        // restore against ssh writing the same bytes into a file on that disk and syncing it, for comparison.
        var intoFile = Path.Combine(dir, "ssh-into-file.bin");
        var sshIntoFile = context.TimeShell($"{sshCommand} {destination} 'cat > {intoFile} && sync {intoFile}' < '{savefile}'");
        File.Delete(intoFile);
        context.Report($"the same whole process against ssh into a file", cli, sshIntoFile, "ssh 'cat > FILE && sync FILE' < SAVEFILE",
            "none, for comparison", bytes, 0);

        // The other direction, for comparison: the whole `xen-iac domain save --checkpoint --host ssh://…` process (the
        // remote saves into its temp folder, then the file crosses ssh into a local file written atomically).
        await using (var admin = HostSpec.Parse(spec).Open())
        {
            await admin.RestoreAsync(savefile, RestoreOptions.Default);
            var back = Path.Combine(dir, "back.xlsave");
            var save = context.TimeShell($"{BenchContext.Tool} domain save big '{back}' --checkpoint --host '{spec}' > /dev/null");
            context.Report($"xen-iac domain save --checkpoint --host ssh://… of the {mib} MiB domain (whole process)", save, cat, "ssh cat > /dev/null",
                "none, for comparison", bytes, 0);
            await admin.DestroyAsync("big");
        }
        Directory.Delete(dir, true);
    }
}
