using System.CommandLine;

namespace XenIac.Cli.Commands.Store;

/// <summary>
/// <c>xen-iac store ...</c>: the snapshot store. Definitions only; <see cref="StoreHandlers"/> does the work,
/// <see cref="StoreRendering"/> prints it.
/// </summary>
internal static class StoreCommand
{
    public const string StoreVariable = "XENIAC_STORE";
    public const string KeyVariable = "XENIAC_STORE_KEY";

    public static Command Create()
    {
        var command = new Command("store", "Keep savefiles as deduplicated, compressed, verified snapshots in a folder or S3 bucket");
        command.Subcommands.Add(Push());
        command.Subcommands.Add(Pull());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Verify());
        command.Subcommands.Add(Gc());
        command.Subcommands.Add(Forget());
        command.Subcommands.Add(KeyGen());
        return command;
    }

    /// <summary>Where the store is, and its key: the options every store command shares.</summary>
    internal sealed record Where(Option<string?> Store, Option<string?> Key, Option<TimeSpan> LockTimeout)
    {
        public static Where Create() => new(
            new Option<string?>("--store") { Description = $"The store: a folder (also on NFS) or s3://bucket/prefix (default: ${StoreVariable}). S3 endpoint and credentials come from the AWS variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...)" },
            CommandLine.InputFileOption("--key", $"Key file of an encrypted store (default: ${KeyVariable}); a store is encrypted from its first push when one is given"),
            CommandLine.DurationOption("--lock-timeout", "How long to wait while gc holds the store (or, for gc, while pushes run); default 60s"));

        public IEnumerable<Option> All => [Store, Key, LockTimeout];

        public StoreHandlers.Location Read(ParseResult parse) =>
            new(parse.GetValue(Store), parse.GetValue(Key), parse.GetResult(LockTimeout) is { Implicit: false } ? parse.GetValue(LockTimeout) : null);
    }

    private static Command Push()
    {
        var file = CommandLine.InputFile("SAVEFILE", "The savefile to store");
        var tag = new Option<string?>("--tag") { Description = "Add the snapshot to a tag (e.g. web@nightly); the tag then names its newest snapshot" };
        var json = CommandLine.JsonOption();
        var where = Where.Create();
        var command = new Command("push", "Store a savefile as a snapshot; only chunks the store does not have yet are written") { file, tag, json };
        foreach (var o in where.All) command.Options.Add(o);
        command.SetHandler((parse, ct) => StoreHandlers.PushAsync(where.Read(parse), parse.GetValue(file)!, parse.GetValue(tag), parse.GetValue(json), ct));
        return command;
    }

    private static Command Pull()
    {
        var reference = new Argument<string>("REF") { Description = "Snapshot id (or a unique start of it) or tag" };
        var dest = CommandLine.OutputFile("DEST", "Where to write the savefile (atomically, mode 0600; '-' streams to standard output)", stdout: true, savefile: true);
        var json = CommandLine.JsonOption();
        var where = Where.Create();
        var command = new Command("pull", "Write a snapshot's savefile, byte for byte as it was pushed (every chunk and the whole file checked)") { reference, dest, json };
        foreach (var o in where.All) command.Options.Add(o);
        command.SetHandler((parse, ct) => StoreHandlers.PullAsync(where.Read(parse), parse.GetValue(reference)!, parse.GetValue(dest)!, parse.GetValue(json), ct));
        return command;
    }

    private static Command List()
    {
        var json = CommandLine.JsonOption();
        var where = Where.Create();
        var command = new Command("ls", "List the snapshots, oldest first") { json };
        foreach (var o in where.All) command.Options.Add(o);
        command.SetHandler((parse, ct) => StoreHandlers.ListAsync(where.Read(parse), parse.GetValue(json), ct));
        return command;
    }

    private static Command Verify()
    {
        var reference = new Argument<string?>("REF") { Description = "Only this snapshot (id or tag); default: all", Arity = ArgumentArity.ZeroOrOne };
        var json = CommandLine.JsonOption();
        var where = Where.Create();
        var command = new Command("verify", "Re-hash every chunk the snapshots need; exit 1 naming damaged chunks and the snapshots they break") { reference, json };
        foreach (var o in where.All) command.Options.Add(o);
        command.SetHandler((parse, ct) => StoreHandlers.VerifyAsync(where.Read(parse), parse.GetValue(reference), parse.GetValue(json), ct));
        return command;
    }

    private static Command Gc()
    {
        var keep = CommandLine.IntOption("--keep", "Keep the newest N snapshots of each tag, remove older ones (untagged snapshots stay); 0: remove none", 0, 1_000_000, 0);
        var dryRun = new Option<bool>("--dry-run") { Description = "Say what would be removed; remove nothing" };
        var json = CommandLine.JsonOption();
        var where = Where.Create();
        var command = new Command("gc", "Remove old snapshots of each tag (--keep) and every chunk no snapshot needs") { keep, dryRun, json };
        foreach (var o in where.All) command.Options.Add(o);
        command.SetHandler((parse, ct) => StoreHandlers.GcAsync(where.Read(parse), parse.GetValue(keep), parse.GetValue(dryRun), parse.GetValue(json), ct));
        return command;
    }

    private static Command Forget()
    {
        var reference = new Argument<string>("ID") { Description = "Snapshot id (or a unique start of it, 4 characters or more); a damaged one too" };
        var json = CommandLine.JsonOption();
        var where = Where.Create();
        var command = new Command("forget", "Remove one snapshot (a damaged one too); gc then removes the chunks no other snapshot needs") { reference, json };
        foreach (var o in where.All) command.Options.Add(o);
        command.SetHandler((parse, ct) => StoreHandlers.ForgetAsync(where.Read(parse), parse.GetValue(reference)!, parse.GetValue(json), ct));
        return command;
    }

    private static Command KeyGen()
    {
        // Checked as any file a command writes: "-" is no place for a secret, a folder is no file, its folder must exist.
        var file = CommandLine.OutputFile("FILE", "Where to write the new key (mode 0600; never replaces a file). Keep it outside the store.");
        var command = new Command("keygen", "Write a new random key file for an encrypted store") { file };
        command.SetHandler((parse, ct) => StoreHandlers.KeyGenAsync(parse.GetValue(file)!));
        return command;
    }
}
