using System.Text;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace XenIac.Cli;

/// <summary>
/// The one way text reaches stdout and stderr. Names, paths, config values and host replies come from files and
/// machines nobody here wrote; a terminal acts on the escapes in them ("\x1b[2J" clears it, "\x1b]0;…\x07" retitles
/// it, a right-to-left override reorders what a reviewer reads). Wrapping each value where it is printed missed
/// lines (a finding's values reached a terminal raw through Spectre), so the writers themselves spell them out:
/// <see cref="Console.Out"/> and <see cref="Console.Error"/> for plain lines, and one render hook for Spectre's
/// tables and progress bars, which keeps Spectre's own colour and cursor codes. JSON and savefile bytes go to the
/// raw stream (<see cref="CommandLine.Stdout"/>) and are not touched.
/// </summary>
internal static class TerminalText
{
    private static TextWriter? s_rawOut;
    private static TextWriter? s_rawError;

    /// <summary>Puts the spelling-out writers in place of Console's; Program.cs calls it first.</summary>
    public static void Install()
    {
        var utf8 = new UTF8Encoding(false);
        // Console's own stdout writer flushes every 256 characters: a 600 KB `plan --json` went out in 2,489 write calls.
        // This one still flushes after every write (a long-running command's lines appear as they happen), in larger chunks.
        s_rawOut = TextWriter.Synchronized(new StreamWriter(CommandLine.Stdout, utf8, 16 * 1024) { AutoFlush = true });
        s_rawError = TextWriter.Synchronized(new StreamWriter(Console.OpenStandardError(), utf8, 4 * 1024) { AutoFlush = true });
        Console.SetOut(TextWriter.Synchronized(new PrintableWriter(s_rawOut)));
        Console.SetError(TextWriter.Synchronized(new PrintableWriter(s_rawError)));
        AnsiConsole.Console = Create(s_rawOut, () => !Console.IsOutputRedirected);
    }

    /// <summary>A Spectre console on stderr (progress bars), with the same spelling out as every other.</summary>
    public static IAnsiConsole StandardError() => Create(s_rawError ?? Console.Error, () => !Console.IsErrorRedirected);

    private static IAnsiConsole Create(TextWriter raw, Func<bool> isTerminal)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new Output(raw, isTerminal) });
        console.Pipeline.Attach(new SpellOutHook());
        return console;
    }

    /// <summary>
    /// Spectre's output with the raw writer underneath: Spectre only asks whether stdout is Console's writer to decide
    /// whether it is a terminal, and the raw one is not.
    /// </summary>
    private sealed class Output(TextWriter writer, Func<bool> isTerminal) : IAnsiConsoleOutput
    {
        public TextWriter Writer => writer;
        public bool IsTerminal => isTerminal();
        public int Width => Math.Max(20, SafeWindow(() => Console.WindowWidth, 80));
        public int Height => Math.Max(5, SafeWindow(() => Console.WindowHeight, 24));
        public void SetEncoding(Encoding encoding) { }

        private static int SafeWindow(Func<int> size, int fallback)
        {
            try { return size() is > 0 and var n ? n : fallback; }
            catch (IOException) { return fallback; }
        }
    }

    /// <summary>Every renderable Spectre writes, with the text of its segments spelled out and its control codes kept.</summary>
    private sealed class SpellOutHook : IRenderHook
    {
        public IEnumerable<IRenderable> Process(RenderOptions options, IEnumerable<IRenderable> renderables) =>
            renderables.Select(r => (IRenderable)new SpelledOut(r));
    }

    private sealed class SpelledOut(IRenderable inner) : IRenderable
    {
        public Measurement Measure(RenderOptions options, int maxWidth) => inner.Measure(options, maxWidth);

        public IEnumerable<Segment> Render(RenderOptions options, int maxWidth)
        {
            foreach (var segment in inner.Render(options, maxWidth))
            {
                if (segment.IsControlCode || segment.IsLineBreak) { yield return segment; continue; }
                var text = CommandLine.Printable(segment.Text);
                yield return ReferenceEquals(text, segment.Text) ? segment : new Segment(text, segment.Style);
            }
        }
    }

    /// <summary>
    /// A writer that spells out what <see cref="CommandLine.Printable"/> does. <c>WriteLine(text)</c> prints one
    /// line, so a line break inside the text is spelled out too (a savefile path holding "\n" would otherwise print a
    /// line of its own choosing under the plan); <c>Write(text)</c> keeps line breaks for the blocks written whole.
    /// Carriage returns are always spelled out: "\r" lets a value overwrite the start of its line.
    /// </summary>
    private sealed class PrintableWriter(TextWriter inner) : TextWriter
    {
        public override Encoding Encoding => inner.Encoding;

        public override void Write(char value)
        {
            if (value == '\n' || !CommandLine.NeedsSpellingOut(value)) inner.Write(value);
            else inner.Write(CommandLine.Printable(value.ToString()));
        }

        public override void Write(string? value)
        {
            if (value is not null) inner.Write(CommandLine.Printable(value, keepNewLines: true));
        }

        public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

        public override void Write(ReadOnlySpan<char> buffer) => Write(new string(buffer));

        public override void WriteLine(string? value)
        {
            // One write: the writer underneath flushes after each, and a line is one system call.
            inner.Write(string.Concat(CommandLine.Printable(value ?? ""), NewLine));
        }

        public override void WriteLine(ReadOnlySpan<char> buffer) => WriteLine(new string(buffer));

        public override void WriteLine(char[] buffer, int index, int count) => WriteLine(new string(buffer, index, count));

        public override void WriteLine() => inner.Write(CoreNewLine);

        public override void Flush() => inner.Flush();
    }
}
