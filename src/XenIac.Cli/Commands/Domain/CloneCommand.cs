using System.CommandLine;
using XenIac.Cli.Commands.Reconcile;
using XenIac.Reconciler.Cloning;

namespace XenIac.Cli.Commands.Domain;

/// <summary>
/// <c>xen-iac domain clone SAVEFILE --count N</c> and <c>domain clone --teardown --name-prefix P</c>: the command
/// line only; behaviour in <see cref="CloneHandlers"/>.
/// </summary>
internal static class CloneCommand
{
    public const int MaxCount = 256;

    public static Command Create(Option<string?> host)
    {
        var file = CommandLine.InputFile("SAVEFILE", "The savefile to clone (not with --teardown)");
        file.Arity = ArgumentArity.ZeroOrOne;
        var count = CommandLine.IntOption("--count", $"How many clones to restore (1 to {MaxCount})", 1, MaxCount, 0);
        var prefix = new Option<string?>("--name-prefix") { Description = "Clones are named PREFIX-1 .. PREFIX-N [default: the stored config's name]" };
        var parallelism = CommandLine.IntOption("--parallelism", "How many clones restore at once", 1, 64, 4);
        var diskCopy = ChoiceOption.Create("--disk-copy",
            "cp: each clone gets its own copy of every writable disk ({dir}/{name}-{vdev}.{ext}); qcow2: a qcow2 overlay backed by the source disk "
            + "({dir}/{name}-{vdev}.qcow2, needs qemu-img); none: the clones use the source's disks",
            CloneDiskCopyWords.All, CloneDiskCopy.Copy);
        var diskCopyCommand = new Option<string?>("--disk-copy-command")
        {
            Description = "Make each disk copy with this command (sh -c) instead of cp: the source disk is \"$1\", the file to write \"$2\"; a non-zero exit undoes the batch",
        };
        var json = CommandLine.JsonOption();
        var teardown = new Option<bool>("--teardown") { Description = "Destroy the clones PREFIX-1.. (and the disk copies clone made) instead" };
        var trust = ReconcileCommand.TrustConfigOption();
        var readyCommand = new Option<string?>("--ready-command")
        {
            Description = "A readiness gate: run this (sh -c) for each clone until it exits 0; it gets XENIAC_CLONE_NAME, XENIAC_CLONE_DOMID, XENIAC_CLONE_MACS",
        };
        var readyTcp = new Option<string?>("--ready-tcp")
        {
            Description = "A readiness gate: HOST:PORT that must accept a TCP connection; {name} and {n} in HOST become the clone's name and number",
        };
        var readyTimeout = CommandLine.DurationOption("--ready-timeout", "How long each clone may take to pass its gate (default 60s); a clone that does not undoes the batch", positive: true);
        var command = new Command("clone",
            "Restore N clones of a savefile in parallel, each with a new name, new MACs (00:16:3e), its own disk copies and (HVM) a fresh VM generation ID")
            { host, file, count, prefix, parallelism, diskCopy, diskCopyCommand, json, teardown, trust, readyCommand, readyTcp, readyTimeout };
        command.SetHandler((parse, ct) => parse.GetValue(teardown)
            ? CloneHandlers.TeardownAsync(parse.GetValue(host), parse.GetValue(file), parse.GetValue(count), parse.GetValue(prefix), parse.GetValue(json), ct)
            : CloneHandlers.CloneAsync(parse.GetValue(host), parse.GetValue(file), new CloneHandlers.CloneRequest(parse.GetValue(count),
                parse.GetValue(prefix), parse.GetValue(parallelism), parse.GetValue(diskCopy), parse.GetValue(json), parse.GetValue(trust))
                {
                    DiskCopyCommand = parse.GetValue(diskCopyCommand),
                    Gate = ReadinessGate.Create(parse.GetValue(readyCommand), parse.GetValue(readyTcp),
                        parse.GetValue(readyTimeout) is { Ticks: > 0 } t ? t : ReadinessGate.DefaultTimeout),
                }, ct));
        return command;
    }
}
