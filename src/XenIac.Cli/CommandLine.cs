using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using XenIac.Core;
using XenIac.Core.Config;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;
using XenIac.Hosts;

namespace XenIac.Cli;

/// <summary>Shared options and the error policy: one <c>error:</c> line on stderr, exit 1, stack only with --verbose.</summary>
internal static class CommandLine
{
    public static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = "Print stack traces for errors",
        Recursive = true,
    };

    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public static Option<bool> JsonOption() => new("--json") { Description = "Print machine-readable JSON" };

    public static void SetHandler(this Command command, Func<ParseResult, CancellationToken, Task<int>> handler) =>
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            // Opening a FIFO waits for its writer; this lets Ctrl+C end that wait, deep in readers that take no token.
            using var fifoWaits = Core.IO.InputFile.CancelWaitsOn(cancellationToken);
            try
            {
                return await handler(parseResult, cancellationToken);
            }
            catch (Reconciler.Manifests.ManifestException e)
            {
                // Every manifest problem on its own line, each with its file:line:column, so all can be fixed at once.
                // How to get a manifest is the front end's to say (the MSBuild tasks name a property, not -f).
                // The path as the user gave it ("-" is no file import could write, so it gets no suggestion).
                var missing = e.ManifestMissing ? e.Errors[0].Location.File : null;
                var hint = missing is null || missing == "-" ? ""
                    : $" (give another with -f FILE, or write one for what a host has with 'xen-iac import --host HOST -o {missing}')";
                foreach (var error in e.Errors) await Console.Error.WriteLineAsync($"error: {OneLine(error.ToString())}{hint}");
                if (parseResult.GetValue(Verbose)) await Console.Error.WriteLineAsync(e.ToString());
                return ExitCodes.Error;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await Console.Error.WriteLineAsync(WritesSavefiles(parseResult)
                    ? "error: cancelled; savefiles are replaced only when complete, so none was left half-written"
                    : "error: cancelled");
                return ExitCodes.Error;
            }
            catch (IOException e) when (e.HResult == BrokenPipe)
            {
                // `savefile convert SRC - | head`: the reader is gone, which .NET words as a bare "Broken pipe".
                await Console.Error.WriteLineAsync("error: the program reading the output closed it before everything was written (broken pipe)");
                if (parseResult.GetValue(Verbose)) await Console.Error.WriteLineAsync(e.ToString());
                return ExitCodes.Error;
            }
            catch (Exception e) when (IsReportable(e))
            {
                // The override is the user's to make; how to make it is the front end's to say.
                var hint = e is IncompatibleConfigException ? " (--force uses it anyway)" : "";
                await Console.Error.WriteLineAsync($"error: {OneLine(e is IOException ? SystemMessage(e.Message) : e.Message)}{hint}");
                if (parseResult.GetValue(Verbose)) await Console.Error.WriteLineAsync(e.ToString());
                return ExitCodes.Error;
            }
        });

    /// <summary>Commands that write or replace savefiles (by parent and name), whose cancel line says none was torn; for the others it would be noise.</summary>
    private static readonly HashSet<string> SavefileWriters = new(StringComparer.Ordinal)
    {
        "savefile seal", "savefile convert", "savefile set-config", "domain save", "domain clone", "apply", "reconcile", "store pull",
    };

    private static bool WritesSavefiles(ParseResult parseResult)
    {
        var command = parseResult.CommandResult.Command;
        var parent = (parseResult.CommandResult.Parent as System.CommandLine.Parsing.CommandResult)?.Command;
        return SavefileWriters.Contains(parent is null or RootCommand ? command.Name : $"{parent.Name} {command.Name}");
    }

    private const int BrokenPipe = 32; // EPIPE, which .NET keeps as the HResult of the IOException on Linux

    /// <summary>
    /// .NET words a failed system call on a path as "Too many levels of symbolic links : '/x'" (the path last, behind
    /// a spaced colon); this puts the path first, as every other error line does, and names the file a user asked for
    /// where the failure hit the temporary file written beside it (a full disk during a save).
    /// </summary>
    internal static string SystemMessage(string message)
    {
        var m = System.Text.RegularExpressions.Regex.Match(message, @"^(?<what>[^'\n]+?) : '(?<path>[^\n]+)'\.?$");
        if (!m.Success) return message;
        var path = m.Groups["path"].Value;
        var named = AtomicFile.TargetOfTemp(path) is { } target ? $"'{target}' (writing its new copy beside it)" : $"'{path}'";
        return $"{named}: {m.Groups["what"].Value}";
    }

    private static bool IsReportable(Exception e) =>
        e is XenIacException or IOException or UnauthorizedAccessException or OperationCanceledException
            or ArgumentException or InvalidOperationException or JsonException;

    /// <summary>
    /// A message as one line: each line break, with the blanks around it (the parser indents its lists with tabs:
    /// "Must be one of:\n\t'json'\n\t'xl'"), becomes one space; blanks within a line are the message's own.
    /// </summary>
    public static string OneLine(string message)
    {
        message = Printable(message.ReplaceLineEndings("\n"), keepNewLines: true);
        if (!message.Contains('\n')) return Bounded(message.Trim());
        var line = new System.Text.StringBuilder(message.Length);
        foreach (var part in message.Split('\n'))
        {
            var text = part.Trim(' ', '\t');
            if (text.Length == 0) continue;
            if (line.Length > 0) line.Append(' ');
            line.Append(text);
        }
        return Bounded(line.ToString().Trim());
    }

    /// <summary>Longest error line printed; what the file and place say is at its start.</summary>
    private const int MaxLineLength = 4000;

    /// <summary>
    /// A message cut to <see cref="MaxLineLength"/>: errors quote values from the input, and a 10 MB label in a
    /// manifest made a 10 MB error line that buried the rest of a log.
    /// </summary>
    private static string Bounded(string line) =>
        line.Length <= MaxLineLength ? line
            : string.Create(CultureInfo.InvariantCulture, $"{line[..(char.IsHighSurrogate(line[MaxLineLength - 1]) ? MaxLineLength - 1 : MaxLineLength)]}… ({line.Length - MaxLineLength:N0} more characters)");

    /// <summary>
    /// <paramref name="text"/> with the characters a terminal acts on spelled out: C0 controls, DEL, C1 controls and the
    /// bidirectional overrides (\x1b, \u202e). Values from untrusted files (a savefile's stored config, a manifest)
    /// reach the screen in text output and error lines, and "\x1b]0;...\x07" retitled the terminal, "\x1b[2J" cleared
    /// it, a right-to-left override reordered what a reviewer read. Tabs stay; "\n" stays when asked (a block of
    /// lines); "\r" never does. <see cref="TerminalText"/> applies it to everything printed; JSON escapes them itself.
    /// </summary>
    public static string Printable(string text, bool keepNewLines = false)
    {
        var i = text.AsSpan().IndexOfAny(keepNewLines ? SpelledOutButNewLine : SpelledOut);
        if (i < 0) return text;
        var sb = new System.Text.StringBuilder(text.Length + 16).Append(text, 0, i);
        for (; i < text.Length; i++)
        {
            var c = text[i];
            if (!NeedsSpellingOut(c) || (keepNewLines && c == '\n')) sb.Append(c);
            else if (c <= 0xFF) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>Whether a terminal would act on <paramref name="c"/> (a tab is text).</summary>
    public static bool NeedsSpellingOut(char c) => SpelledOut.Contains(c);

    private static readonly System.Buffers.SearchValues<char> SpelledOut = System.Buffers.SearchValues.Create(Controls(withNewLine: true));
    private static readonly System.Buffers.SearchValues<char> SpelledOutButNewLine = System.Buffers.SearchValues.Create(Controls(withNewLine: false));

    private static string Controls(bool withNewLine)
    {
        var chars = new System.Text.StringBuilder();
        for (var c = '\0'; c < ' '; c++) if (c != '\t' && (withNewLine || c != '\n')) chars.Append(c);
        for (var c = '\x7f'; c <= '\x9f'; c++) chars.Append(c);
        for (var c = '\u202a'; c <= '\u202e'; c++) chars.Append(c);
        for (var c = '\u2066'; c <= '\u2069'; c++) chars.Append(c);
        return chars.ToString();
    }

    /// <summary>Standard output as bytes: <see cref="TerminalText"/> puts Console.Out's writer on the same stream.</summary>
    public static readonly Stream Stdout = Console.OpenStandardOutput();

    /// <summary>
    /// A document (a config, a manifest, JSON text) on stdout exactly as it is, past the writer that spells out
    /// terminal escapes: what a user redirects into a file must be the file's bytes. Ends with a line break.
    /// </summary>
    public static void WriteDocument(string text)
    {
        Console.Out.Flush();
        Stdout.Write(System.Text.Encoding.UTF8.GetBytes(text.EndsWith('\n') ? text : text + "\n"));
        Stdout.Flush();
    }

    /// <summary>
    /// A JSON document on stdout, as UTF-8 straight from the nodes. Why not ToJsonString: a 1,000-domain plan is a
    /// 0.7 MB document, which went out as a 1.4 MB UTF-16 string (a large-object allocation into fresh, page-faulting
    /// memory) and was then encoded back to UTF-8 by the writer. Objects and arrays flush every 64 KiB, so the buffer stays small.
    /// </summary>
    public static void WriteJson(JsonNode node)
    {
        Console.Out.Flush();
        using (var writer = new Utf8JsonWriter(Stdout, new JsonWriterOptions { Indented = JsonOptions.WriteIndented, Encoder = JsonOptions.Encoder }))
        {
            WriteNode(writer, node);
            writer.Flush();
        }
        Stdout.Write("\n"u8);
        Stdout.Flush();
    }

    private static void FlushEvery64KiB(Utf8JsonWriter writer)
    {
        if (writer.BytesPending > 64 * 1024) writer.Flush();
    }

    private static void WriteNode(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                writer.WriteStartObject();
                foreach (var (name, value) in o)
                {
                    writer.WritePropertyName(name);
                    WriteNode(writer, value);
                    FlushEvery64KiB(writer);
                }
                writer.WriteEndObject();
                break;
            case JsonArray a:
                writer.WriteStartArray();
                foreach (var item in a)
                {
                    WriteNode(writer, item);
                    FlushEvery64KiB(writer);
                }
                writer.WriteEndArray();
                break;
            case null:
                writer.WriteNullValue();
                break;
            default:
                node.WriteTo(writer, JsonOptions);
                break;
        }
    }

    /// <summary>The stand-in for standard input (where a command reads) or standard output (where it writes).</summary>
    public const string StdioName = "-";

    /// <summary>The host when --host is not given.</summary>
    public const string HostVariable = XenIac.Hosts.HostSpec.EnvironmentVariable;

    /// <summary>
    /// A <c>--host</c> option. Given empty (<c>--host ""</c>, an unset shell variable) it is an error naming the option:
    /// falling back to $XENIAC_HOST or the dom0 then would act on a host the user did not choose.
    /// </summary>
    public static Option<string?> HostOption(string description)
    {
        var option = new Option<string?>("--host") { Description = description };
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && string.IsNullOrWhiteSpace(r.Tokens[0].Value))
                r.AddError($"--host is empty: give 'libxl', 'embedded:<folder>' or 'ssh://[user@]host', or leave it out for ${HostVariable}");
        });
        return option;
    }

    /// <summary>
    /// The host a person chose: --host, else $XENIAC_HOST, else the default (libxl on a dom0). An embedded folder is
    /// made absolute against the current directory; a new one is created only under an existing parent, and said so
    /// on stderr (<see cref="XenIac.Hosts.HostSpec.PrepareTyped"/>).
    /// </summary>
    public static XenIac.Hosts.HostSpec HostSpec(string? given) =>
        (string.IsNullOrWhiteSpace(given) ? XenIac.Hosts.HostSpec.FromEnvironment() : XenIac.Hosts.HostSpec.Parse(given))
            .PrepareTyped(NoteCreatedHost);

    /// <summary>The note for an embedded host folder made now: a new host is never made silently.</summary>
    public static void NoteCreatedHost(string folder) =>
        Console.Error.WriteLine($"note: created embedded host folder '{OneLine(folder)}' (a new, empty host)");

    /// <summary>
    /// A whole-number option. A value that is not a whole number in [min, max] is a parse error (one
    /// <c>error:</c> line, exit 1) instead of an exception at run time.
    /// </summary>
    public static Option<int> IntOption(string name, string description, int min, int max, int defaultValue)
    {
        var option = new Option<int>(name) { Description = description };
        // A default outside the range marks "not given" (clone's --count must be given): help shows no default for it.
        if (defaultValue >= min && defaultValue <= max) option.DefaultValueFactory = _ => defaultValue;
        option.CustomParser = r =>
        {
            if (r.Tokens.Count == 0) return defaultValue;
            var text = r.Tokens[0].Value;
            if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max) return n;
            r.AddError($"{name} '{text}' is not a whole number from {min} to {max}");
            return defaultValue;
        };
        return option;
    }

    /// <summary>Longest --lock-timeout: a day is already longer than any apply anyone waits for.</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromHours(24);

    /// <summary>A duration option: a number with ms, s, m or h (no unit: seconds), from 0 to <see cref="MaxDuration"/>.</summary>
    /// <param name="positive">
    /// Zero is refused: for a wait that has no "do not wait" (a gate's time to pass) a given 0 read as unset and
    /// silently became the default, a minute of waiting.
    /// </param>
    public static Option<TimeSpan> DurationOption(string name, string description, bool positive = false)
    {
        // No DefaultValueFactory: unset reads as TimeSpan.Zero all the same (the caller's own default, named in the
        // description), and help would print it as "[default: 00:00:00]".
        var option = new Option<TimeSpan>(name) { Description = description, HelpName = "duration" };
        option.CustomParser = r =>
        {
            if (r.Tokens.Count == 0) return TimeSpan.Zero;
            var text = r.Tokens[0].Value;
            if (TryParseDuration(text, out var value))
            {
                if (!positive || value > TimeSpan.Zero) return value;
                r.AddError($"{name} '{text}' is no time at all; give a duration above 0, up to {MaxDuration.TotalHours:0}h (e.g. 30s, 5m)");
                return TimeSpan.Zero;
            }
            r.AddError($"{name} '{text}' is not a duration from {(positive ? "above " : "")}0 to {MaxDuration.TotalHours:0}h (e.g. 30s, 5m, 1h)");
            return TimeSpan.Zero;
        };
        return option;
    }

    internal static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        var t = text.Trim();
        var (number, unit) = t.EndsWith("ms", StringComparison.Ordinal) ? (t[..^2], 0.001)
            : t.EndsWith('s') ? (t[..^1], 1.0)
            : t.EndsWith('m') ? (t[..^1], 60.0)
            : t.EndsWith('h') ? (t[..^1], 3600.0)
            : (t, 1.0);
        // No sign, exponent, NaN or infinity: a negative or absurd wait is a typo, not a request.
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n)) return false;
        var seconds = n * unit;
        if (!double.IsFinite(seconds) || seconds < 0 || seconds > MaxDuration.TotalSeconds) return false;
        value = TimeSpan.FromSeconds(seconds);
        return true;
    }

    /// <summary>A file the command reads. It must exist and not be a folder; "-" (standard input) only when <paramref name="stdin"/>.</summary>
    public static Argument<string> InputFile(string name, string description, bool stdin = false)
    {
        var argument = new Argument<string>(name) { Description = description };
        argument.Validators.Add(r => CheckInput(r, name, stdin));
        return argument;
    }

    /// <summary>An option naming a file the command reads (--config): as <see cref="InputFile"/>, never standard input.</summary>
    public static Option<string?> InputFileOption(string name, string description)
    {
        var option = new Option<string?>(name) { Description = description };
        option.Validators.Add(r => CheckInput(r, name, stdin: false));
        return option;
    }

    /// <summary>
    /// A file the command writes, replaced atomically: its folder must exist and it must be absent or a regular
    /// file (<see cref="AtomicFile.CheckTarget"/>), checked while parsing, before anything is touched.
    /// "-" (standard output) only when <paramref name="stdout"/>.
    /// </summary>
    /// <remarks>
    /// With <paramref name="savefile"/>, a non-empty file already there is replaced only when it begins as a savefile:
    /// <c>domain save web xen-iac.yaml</c> (arguments swapped, a typo) replaced the manifest with guest memory.
    /// </remarks>
    public static Argument<string> OutputFile(string name, string description, bool stdout = false, bool savefile = false)
    {
        var argument = new Argument<string>(name) { Description = description };
        argument.Validators.Add(r =>
        {
            if (r.Tokens.Count == 0) return;
            var path = r.Tokens[0].Value;
            if (path == StdioName)
            {
                if (!stdout) r.AddError($"{name}: '-' (standard output) is not supported by this command; give a file path (use ./- for a file named '-')");
                return;
            }
            if (path.Length == 0)
            {
                r.AddError($"{name} is empty; give a file path");
                return;
            }
            try
            {
                if (savefile) SaveFileHeader.CheckTarget(path);
                else AtomicFile.CheckTarget(path);
            }
            catch (IOException e) { r.AddError($"{name}: {e.Message}"); }
        });
        return argument;
    }

    /// <summary>
    /// A folder given where a file belongs says so, rather than failing later with "access denied"; so does an empty
    /// value (`-f ""`, an unset shell variable), which .NET would refuse with its own wording.
    /// </summary>
    public static void RejectFolder(Option<string> option) => option.Validators.Add(r =>
    {
        if (r.Tokens.Count == 0) return;
        if (r.Tokens[0].Value.Length == 0) r.AddError($"{option.Name} is empty; give a file path");
        else if (Directory.Exists(r.Tokens[0].Value)) r.AddError($"{option.Name} '{r.Tokens[0].Value}' is a folder, not a file");
    });

    private static void CheckInput(SymbolResult r, string name, bool stdin)
    {
        if (r.Tokens.Count == 0) return;
        var path = r.Tokens[0].Value;
        if (path == StdioName)
        {
            if (!stdin) r.AddError($"{name}: '-' (standard input) is not supported by this command; give a file path (use ./- for a file named '-')");
        }
        else if (path.Length == 0) r.AddError($"{name} is empty; give a file path");
        else if (Directory.Exists(path)) r.AddError($"{name} '{path}' is a folder, not a file");
        else if (!File.Exists(path)) r.AddError(Missing(name, path));
    }

    /// <summary>Why File.Exists said no: it says no alike for a missing file and for one behind a folder this user cannot enter.</summary>
    private static string Missing(string name, string path)
    {
        try
        {
            File.GetAttributes(path);
            return $"{name} '{path}' cannot be read";
        }
        catch (UnauthorizedAccessException) { return $"{name} '{path}' cannot be reached: permission denied (on the file or a folder of its path)"; }
        catch (Exception e) when (e is IOException or ArgumentException) { return $"{name} '{path}' does not exist"; }
    }

    /// <summary>
    /// Runs <paramref name="action"/> on the savefile <paramref name="path"/>; a format error ("wrong magic number")
    /// is reported with the file's name in front, so the user knows which of their files it is about.
    /// </summary>
    public static async Task<T> OnSavefileAsync<T>(string path, Func<Task<T>> action)
    {
        try { return await action(); }
        catch (XenFormatException e) when (path != StdioName && !e.Message.Contains(path, StringComparison.Ordinal))
        {
            throw new XenFormatException(e.Error, $"{path}: {e.Message}", e.Offset, e) { RecordIndex = e.RecordIndex };
        }
    }

    /// <summary>
    /// Refuses a FILE that can be read only once (standard input, a pipe, a FIFO) for a command that reads it more
    /// than once: checks first, then the work. Read twice, a pipe would give its second reader what the first left.
    /// </summary>
    /// <exception cref="ArgumentException">FILE is "-" or cannot be read again from its start.</exception>
    public static void RequireRereadable(string path, string command)
    {
        bool seekable;
        // A FIFO is told by its type: opening it would wait for a writer only to refuse it.
        if (path == StdioName || Core.IO.InputFile.IsFifo(path)) seekable = false;
        else
        {
            try
            {
                using var probe = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1);
                seekable = probe.CanSeek;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return; // the command's own open names the problem
            }
        }
        if (!seekable)
            throw new ArgumentException($"{command} reads {(path == StdioName ? "standard input" : path)} more than once " +
                                        "(its checks, then the work), so it cannot come from a pipe: write it to a file first");
        // /dev/zero seeks, but never ends: copied whole it would fill the disk.
        if (!AtomicFile.HasEnd(path))
            throw new ArgumentException($"{command} reads '{path}' whole, and it is a device that may never end (such as /dev/zero), " +
                                        "not a file: give a savefile on disk");
    }

    /// <summary>Opens FILE for reading; "-" means standard input, which must not be a terminal.</summary>
    public static Stream OpenInput(string path)
    {
        if (path != "-") return Core.IO.InputFile.Open(path, 64 * 1024);
        // A savefile typed at a terminal is never what was meant: it would wait for keys that never come.
        if (!Console.IsInputRedirected)
            throw new ArgumentException("'-' reads a savefile from standard input, which is a terminal here: pipe one in (< FILE) or give its path");
        return StandardStreams.OpenInput();
    }
}
